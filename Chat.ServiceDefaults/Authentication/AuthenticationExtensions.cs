using System.Text;
using Chat.ServiceDefaults;
using Chat.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Microsoft.Extensions.Hosting;

public static class AuthenticationExtensions
{
    /// <summary>
    /// JWT bearer authentication from <see cref="ChatJwtOptions"/> and one authorization policy per scope
    /// (<see cref="ChatScopes.Read"/>, <see cref="ChatScopes.Write"/>), each also requiring <c>sub</c> and <c>tenant_id</c>.
    /// With <paramref name="allowQueryStringToken"/>, a token may come as <c>?access_token=</c> (browsers cannot set
    /// headers on a WebSocket). With <paramref name="authenticateEveryRequest"/> false no default scheme is set, so
    /// nothing is authenticated unless an endpoint asks (chat-streaming's handshake); such a service validates a token
    /// once per connection, so it keeps no <see cref="ValidatedTokenCache"/> (it would hold an identity per user for
    /// nothing).
    /// </summary>
    public static TBuilder AddChatAuthentication<TBuilder>(this TBuilder builder, bool allowQueryStringToken = false, bool authenticateEveryRequest = true)
        where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOptions<ChatJwtOptions>()
            .BindConfiguration(ChatJwtOptions.SectionName)
            .ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ChatJwtOptions>, ChatJwtOptionsValidator>());

        // Without a default scheme the authentication middleware leaves requests alone: chat-streaming validates the
        // token itself at the handshake, so that no principal is cached for the whole life of a socket. ASP.NET Core
        // would otherwise make the only scheme the default; its switch for that is process-wide.
        if (!authenticateEveryRequest)
        {
            AppContext.SetSwitch("Microsoft.AspNetCore.Authentication.SuppressAutoDefaultScheme", true);
        }
        (authenticateEveryRequest ? builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme) : builder.Services.AddAuthentication())
            .AddJwtBearer();
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<ChatJwtOptions>>((bearer, chat) => Configure(bearer, chat.Value, allowQueryStringToken, cacheTokens: authenticateEveryRequest));
        builder.Services.SkipDataProtectionKeyRingAtStart();

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(ChatScopes.Read, p => p.RequireAuthenticatedUser().RequireAssertion(ctx => HasScope(ctx, ChatScopes.Read)))
            .AddPolicy(ChatScopes.Write, p => p.RequireAuthenticatedUser().RequireAssertion(ctx => HasScope(ctx, ChatScopes.Write)));
        return builder;
    }

    /// <summary>
    /// <c>AddAuthentication</c> brings in ASP.NET Core Data Protection, whose hosted service loads (and on first run
    /// creates and writes) an XML key ring at start-up. Chat's services take bearer tokens only: nothing protects or
    /// unprotects data, so the key ring would never be used. Without the hosted service it is loaded on first use,
    /// i.e. never, which saves ~9 MB of RSS per service (System.Private.Xml and the code that reads the ring) and the
    /// "keys may not be persisted" warnings in containers. Call it again after anything
    /// else that adds Data Protection (YARP does, for session affinity cookies).
    /// </summary>
    public static IServiceCollection SkipDataProtectionKeyRingAtStart(this IServiceCollection services)
    {
        var eager = services.Where(d => d.ServiceType == typeof(Microsoft.Extensions.Hosting.IHostedService)
            && d.ImplementationType?.FullName == "Microsoft.AspNetCore.DataProtection.Internal.DataProtectionHostedService").ToList();
        foreach (var descriptor in eager)
        {
            services.Remove(descriptor);
        }
        return services;
    }

    private static bool HasScope(AuthorizationHandlerContext context, string scope) =>
        ChatUser.TryFrom(context.User, out var user) && user.HasScope(scope);

    private static void Configure(JwtBearerOptions bearer, ChatJwtOptions chat, bool allowQueryStringToken, bool cacheTokens)
    {
        bearer.MapInboundClaims = false;
        // After MapInboundClaims, which sets itself on the JsonWebTokenHandler these wrap.
        WrapTokenHandlers(bearer, cacheTokens ? chat.ValidatedTokenCacheSize : 0);
        bearer.Audience = chat.Audience;
        bearer.TokenValidationParameters.ValidAudience = chat.Audience;
        bearer.TokenValidationParameters.ValidateAudience = true;
        bearer.TokenValidationParameters.ValidateLifetime = true;
        bearer.TokenValidationParameters.RequireExpirationTime = true;
        bearer.TokenValidationParameters.ClockSkew = chat.ClockSkew;
        bearer.TokenValidationParameters.NameClaimType = ChatUser.SubjectClaim;
        ConfigureSigning(bearer, chat);
        bearer.Events = Events(allowQueryStringToken);
    }

    /// <summary>
    /// A token naming two users or tenants is invalid (401) in every service; with a <paramref name="cacheSize"/> above 0
    /// the tokens that pass (that check too) are remembered.
    /// </summary>
    private static void WrapTokenHandlers(JwtBearerOptions bearer, int cacheSize)
    {
        for (var i = 0; i < bearer.TokenHandlers.Count; i++)
        {
            if (bearer.TokenHandlers[i] is not (ValidatedTokenCache or SingleIdentityTokenHandler))
            {
                var checkedHandler = new SingleIdentityTokenHandler(bearer.TokenHandlers[i]);
                bearer.TokenHandlers[i] = cacheSize > 0
                    ? new ValidatedTokenCache(checkedHandler, TimeProvider.System, cacheSize)
                    : checkedHandler;
            }
        }
    }

    /// <summary>Keys and issuer from the OIDC authority's metadata, or the development signing key and issuer.</summary>
    private static void ConfigureSigning(JwtBearerOptions bearer, ChatJwtOptions chat)
    {
        if (!string.IsNullOrWhiteSpace(chat.Authority))
        {
            bearer.Authority = chat.Authority;
            bearer.MetadataAddress = chat.MetadataAddress ?? bearer.MetadataAddress;
            bearer.RequireHttpsMetadata = chat.Authority.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
            if (!string.IsNullOrWhiteSpace(chat.Issuer))
            {
                bearer.TokenValidationParameters.ValidIssuer = chat.Issuer;
            }
        }
        else
        {
            bearer.TokenValidationParameters.ValidIssuer = chat.Issuer;
            bearer.TokenValidationParameters.ValidateIssuer = !string.IsNullOrWhiteSpace(chat.Issuer);
            bearer.TokenValidationParameters.IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(chat.SigningKey!));
            bearer.TokenValidationParameters.ValidAlgorithms = [SecurityAlgorithms.HmacSha256];
        }
    }

    /// <summary>Where a token may come from, and the problem bodies of a 401 and a 403.</summary>
    private static JwtBearerEvents Events(bool allowQueryStringToken) => new()
    {
        OnMessageReceived = ctx =>
        {
            if (allowQueryStringToken && string.IsNullOrEmpty(ctx.Token) && QueryStringToken.Read(ctx.Request) is { } token)
            {
                ctx.Token = token;
            }
            return Task.CompletedTask;
        },
        OnChallenge = ctx =>
        {
            // Same RFC 6750 header the default challenge sends, plus a problem-details body with a stable code.
            ctx.HandleResponse();
            var (code, description) = ctx.AuthenticateFailure switch
            {
                SecurityTokenExpiredException => ("token_expired", "The token has expired."),
                not null => ("invalid_token", "The token is not valid."),
                null => ("unauthorized", "A bearer token is required."),
            };
            ctx.Response.Headers.WWWAuthenticate = ctx.AuthenticateFailure is null
                ? "Bearer"
                : $"Bearer error=\"invalid_token\", error_description=\"{description}\"";
            return ProblemResponses.WriteAsync(ctx.HttpContext, StatusCodes.Status401Unauthorized, code, "Unauthorized", description);
        },
        OnForbidden = ctx => ProblemResponses.WriteAsync(
            ctx.HttpContext, StatusCodes.Status403Forbidden, "forbidden", "Forbidden", "The token lacks a scope this operation needs."),
    };
}
