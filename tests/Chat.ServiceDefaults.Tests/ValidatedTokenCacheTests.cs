using System.Security.Claims;
using System.Text;
using Chat.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Chat.ServiceDefaults.Tests;

/// <summary>
/// The validated-token cache every service's bearer authentication goes through: what it reuses, for how long, and what
/// it never keeps. Real tokens, validated by the real <see cref="JsonWebTokenHandler"/>.
/// </summary>
public sealed class ValidatedTokenCacheTests
{
    private static readonly SymmetricSecurityKey s_key = new(Encoding.UTF8.GetBytes(new string('k', 48)));

    private static readonly TokenValidationParameters s_parameters = new()
    {
        ValidIssuer = "chat-dev",
        ValidAudience = "chat",
        IssuerSigningKey = s_key,
        ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
        RequireExpirationTime = true,
        ClockSkew = TimeSpan.Zero,
    };

    private static string Token(string subject, DateTime expires, SecurityKey? key = null) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "chat-dev",
            Audience = "chat",
            NotBefore = DateTime.UtcNow.AddMinutes(-1),
            IssuedAt = DateTime.UtcNow.AddMinutes(-1),
            Expires = expires,
            Subject = new ClaimsIdentity([new Claim("sub", subject), new Claim("tenant_id", "t1"), new Claim("scope", "chat.read")]),
            SigningCredentials = new SigningCredentials(key ?? s_key, SecurityAlgorithms.HmacSha256),
        });

    [Fact]
    public async Task AValidTokenIsValidatedOnceAndEachRequestGetsItsOwnIdentity()
    {
        var inner = new CountingHandler();
        using var cache = new ValidatedTokenCache(inner, TimeProvider.System);
        var token = Token("user-1", DateTime.UtcNow.AddHours(1));

        var first = await cache.ValidateTokenAsync(token, s_parameters);
        var second = await cache.ValidateTokenAsync(token, s_parameters);

        Assert.True(first.IsValid);
        Assert.True(second.IsValid);
        Assert.Equal(1, inner.Calls);
        Assert.Equal("user-1", second.ClaimsIdentity.FindFirst("sub")?.Value);
        Assert.Equal(first.SecurityToken.ValidTo, second.SecurityToken.ValidTo);
        // A claim one request adds does not reach the next.
        second.ClaimsIdentity.AddClaim(new Claim("role", "admin"));
        var third = await cache.ValidateTokenAsync(token, s_parameters);
        Assert.Null(third.ClaimsIdentity.FindFirst("role"));
        Assert.NotSame(second.ClaimsIdentity, third.ClaimsIdentity);
    }

    [Fact]
    public async Task AnInvalidTokenIsNeverKept()
    {
        var inner = new CountingHandler();
        using var cache = new ValidatedTokenCache(inner, TimeProvider.System);
        var forged = Token("user-1", DateTime.UtcNow.AddHours(1), new SymmetricSecurityKey(Encoding.UTF8.GetBytes(new string('x', 48))));
        var valid = Token("user-1", DateTime.UtcNow.AddHours(1));
        var tampered = valid[..^2] + (valid[^2] == 'A' ? "BB" : "AA");

        for (var i = 0; i < 3; i++)
        {
            Assert.False((await cache.ValidateTokenAsync(forged, s_parameters)).IsValid);
            Assert.False((await cache.ValidateTokenAsync(tampered, s_parameters)).IsValid);
        }

        Assert.Equal(6, inner.Calls);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public async Task AnExpiredTokenIsValidatedAgainAndRefused()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var parameters = WithClock(clock);
        var inner = new CountingHandler();
        using var cache = new ValidatedTokenCache(inner, clock);
        var expires = clock.GetUtcNow().UtcDateTime.AddMinutes(2);
        var token = Token("user-1", expires);
        Assert.True((await cache.ValidateTokenAsync(token, parameters)).IsValid);

        // One second before the expiry the token carries (JWT expiry is in whole seconds) it is still remembered...
        clock.SetUtcNow(DateTimeOffset.FromUnixTimeSeconds(new DateTimeOffset(expires).ToUnixTimeSeconds()).AddSeconds(-1));
        Assert.True((await cache.ValidateTokenAsync(token, parameters)).IsValid);
        Assert.Equal(1, inner.Calls);

        // ...and two seconds later it is validated again, and refused.
        clock.Advance(TimeSpan.FromSeconds(2));
        var later = await cache.ValidateTokenAsync(token, parameters);

        Assert.False(later.IsValid);
        Assert.IsType<SecurityTokenExpiredException>(later.Exception);
        Assert.Equal(2, inner.Calls);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public async Task AValidationIsReusedForAtMostFiveMinutes()
    {
        var inner = new CountingHandler();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var cache = new ValidatedTokenCache(inner, clock);
        var token = Token("user-1", DateTime.UtcNow.AddHours(1));

        await cache.ValidateTokenAsync(token, s_parameters);
        clock.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1));
        await cache.ValidateTokenAsync(token, s_parameters);
        Assert.Equal(1, inner.Calls);

        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.True((await cache.ValidateTokenAsync(token, s_parameters)).IsValid);
        Assert.Equal(2, inner.Calls);
    }

    [Fact]
    public async Task ItHoldsNoMoreTokensThanItsCapacityAndNeverStartsOver()
    {
        using var cache = new ValidatedTokenCache(new JsonWebTokenHandler(), TimeProvider.System, capacity: 10);
        for (var i = 0; i < 10; i++)
        {
            Assert.True((await cache.ValidateTokenAsync(Token($"user-{i}", DateTime.UtcNow.AddHours(1)), s_parameters)).IsValid);
        }
        Assert.Equal(10, cache.Count);

        // Past its capacity it makes room a few entries at a time (compaction runs in the background, so two may
        // overlap): it never drops to the handful of tokens a cache that started over would hold.
        for (var i = 10; i < 30; i++)
        {
            Assert.True((await cache.ValidateTokenAsync(Token($"user-{i}", DateTime.UtcNow.AddHours(1)), s_parameters)).IsValid);
            Assert.InRange(cache.Count, 5, 10);
        }
    }

    [Theory]
    [InlineData(true, true)]    // chat-api, the gateway: a token per request
    [InlineData(false, false)]  // chat-streaming: a token per socket, nothing to reuse
    public void OnlyServicesThatAuthenticateEveryRequestRememberTokens(bool authenticateEveryRequest, bool cached)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Jwt:SigningKey"] = new string('k', 48),
            ["Jwt:Issuer"] = "chat-dev",
            ["Jwt:Audience"] = "chat",
        });
        builder.AddChatAuthentication(authenticateEveryRequest: authenticateEveryRequest);
        using var host = builder.Build();

        var bearer = host.Services.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>().Get(JwtBearerDefaults.AuthenticationScheme);
        Assert.Equal(cached, bearer.TokenHandlers.Any(h => h is ValidatedTokenCache));
    }

    private sealed class CountingHandler : TokenHandler
    {
        private readonly JsonWebTokenHandler _inner = new();
        private int _calls;

        public int Calls => _calls;

        public override Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
        {
            Interlocked.Increment(ref _calls);
            return _inner.ValidateTokenAsync(token, validationParameters);
        }
    }

    /// <summary>
    /// The real validation, with its expiry check on <paramref name="clock"/> (what it would refuse with, and when, as
    /// the default check does with zero clock skew).
    /// </summary>
    private static TokenValidationParameters WithClock(TimeProvider clock)
    {
        var parameters = s_parameters.Clone();
        parameters.LifetimeValidator = (_, expires, _, _) => expires > clock.GetUtcNow().UtcDateTime
            ? true
            : throw new SecurityTokenExpiredException("The token has expired.") { Expires = expires!.Value };
        return parameters;
    }
}
