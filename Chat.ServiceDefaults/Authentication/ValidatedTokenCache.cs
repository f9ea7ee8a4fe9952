using System.Security.Claims;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Internal;
using Microsoft.IdentityModel.Tokens;

namespace Chat.ServiceDefaults.Authentication;

/// <summary>
/// A token handler that remembers the tokens that passed validation, so a client's requests after its first one skip
/// parsing the JWT and checking its signature again, the way Envoy's <c>jwt_authn</c> caches verified tokens.
/// </summary>
/// <remarks>
/// - Only valid tokens are kept, keyed by the whole token string: a token that differs by one character is validated
///   in full.
/// - An entry expires when the token does (its <c>exp</c> plus the clock skew validation allowed) and at most
///   <see cref="MaxAge"/> after it was validated, so a changed signing key or issuer takes effect within that time. A
///   token past its expiry is validated again, and refused as expired.
/// - Each hit hands out its own copy of the identity: nothing one request does to its principal reaches another.
/// - At most <c>capacity</c> tokens, in a <see cref="MemoryCache"/> of its own (each entry of size 1): when full, a new
///   token is validated but not kept while the cache compacts, dropping expired entries first, then the least
///   recently used.
/// </remarks>
public sealed class ValidatedTokenCache : TokenHandler, IDisposable
{
    public const int DefaultCapacity = 10_000;

    /// <summary>The longest a validation is reused.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);

    private readonly TokenHandler _inner;
    private readonly TimeProvider _time;
    private readonly MemoryCache _valid;

    public ValidatedTokenCache(TokenHandler inner, TimeProvider time, int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _inner = inner;
        _time = time;
        // The cache's own clock is the one entries expire by, so a test's FakeTimeProvider moves them too.
        _valid = new MemoryCache(new MemoryCacheOptions { SizeLimit = capacity, Clock = new Clock(time) });
    }

    /// <summary>Tokens remembered now (for tests and diagnostics).</summary>
    public int Count => _valid.Count;

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        if (_valid.TryGetValue(token, out Entry? entry) && entry is not null)
        {
            return new TokenValidationResult
            {
                IsValid = true,
                ClaimsIdentity = entry.Identity.Clone(),
                SecurityToken = entry.Token,
                Issuer = entry.Issuer,
                TokenType = entry.TokenType,
            };
        }

        var result = await _inner.ValidateTokenAsync(token, validationParameters);
        if (result.IsValid && result.SecurityToken is { } validated && result.ClaimsIdentity is { } identity)
        {
            Remember(token, new Entry(identity.Clone(), validated, result.Issuer, result.TokenType), validated.ValidTo.Add(validationParameters.ClockSkew));
        }

        return result;
    }

    public override SecurityToken ReadToken(string token) => _inner.ReadToken(token);

    /// <summary>Drops every entry. The bearer options that hold this handler live as long as the app, so only tests call it.</summary>
    public void Dispose() => _valid.Dispose();

    private void Remember(string token, Entry entry, DateTime tokenExpires)
    {
        var now = _time.GetUtcNow();
        var until = new DateTimeOffset(DateTime.SpecifyKind(tokenExpires, DateTimeKind.Utc));
        if (until > now + MaxAge)
        {
            until = now + MaxAge;
        }
        if (until > now)
        {
            _valid.Set(token, entry, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpiration = until });
        }
    }

    private sealed record Entry(ClaimsIdentity Identity, SecurityToken Token, string? Issuer, string? TokenType);

    /// <summary><see cref="MemoryCacheOptions.Clock"/> takes an <see cref="ISystemClock"/>, not a <see cref="TimeProvider"/>.</summary>
    private sealed class Clock(TimeProvider time) : ISystemClock
    {
        public DateTimeOffset UtcNow => time.GetUtcNow();
    }
}
