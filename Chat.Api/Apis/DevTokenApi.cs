using System.Security.Claims;
using System.Text;
using Chat.Api.Contracts;
using Chat.Api.Infrastructure;
using Chat.Data;
using Chat.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Chat.Api.Apis;

/// <summary>
/// <c>POST /api/v1/dev/token</c>: mints an HS256 token with the configured development key, for curl and the web
/// client (scripts/dev-token.sh). Mapped in Development only, so it is a plain 404 anywhere else.
/// </summary>
public static class DevTokenApi
{
    public const string DefaultUser = "dev-user";
    public const string DefaultTenant = "dev-tenant";
    public const int MaxLifetimeMinutes = 24 * 60;

    public static IEndpointRouteBuilder MapDevTokenApi(this WebApplication app)
    {
        if (!app.Environment.IsDevelopment())
        {
            return app;
        }

        app.MapPost($"{ConversationsApi.Prefix}/dev/token", MintDevToken)
            .AllowAnonymous()
            .WithTags("Development")
            .WithName(nameof(MintDevToken))
            .WithSummary("Mint a development token (Development only)");
        return app;
    }

    public static Results<Ok<DevTokenResponse>, ProblemHttpResult> MintDevToken(
        DevTokenRequest? request, IOptions<ChatJwtOptions> jwt, TimeProvider time, ILoggerFactory loggers)
    {
        var options = jwt.Value;
        if (string.IsNullOrWhiteSpace(options.SigningKey))
        {
            return ApiProblems.Problem(StatusCodes.Status409Conflict, ProblemCodes.DevTokenUnavailable,
                "No development signing key is configured.", "Tokens come from the external auth service here.");
        }

        var userId = string.IsNullOrWhiteSpace(request?.UserId) ? DefaultUser : request.UserId;
        var tenantId = string.IsNullOrWhiteSpace(request?.TenantId) ? DefaultTenant : request.TenantId;
        var scopes = request?.Scopes ?? $"{ChatScopes.Read} {ChatScopes.Write}";
        var lifetime = request?.LifetimeMinutes ?? 60;
        var errors = new Dictionary<string, string[]>();
        if (userId.Length > Limits.IdentifierLength)
        {
            errors["userId"] = [$"userId may be at most {Limits.IdentifierLength} characters."];
        }
        if (tenantId.Length > Limits.IdentifierLength)
        {
            errors["tenantId"] = [$"tenantId may be at most {Limits.IdentifierLength} characters."];
        }
        if (lifetime is < 1 or > MaxLifetimeMinutes)
        {
            errors["lifetimeMinutes"] = [$"lifetimeMinutes must be between 1 and {MaxLifetimeMinutes}."];
        }
        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        var now = time.GetUtcNow();
        var expires = now.AddMinutes(lifetime);
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = options.Issuer,
            Audience = options.Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            Subject = new ClaimsIdentity(
            [
                new Claim(ChatUser.SubjectClaim, userId),
                new Claim(ChatUser.TenantClaim, tenantId),
                new Claim(ChatUser.ScopeClaim, scopes),
            ]),
            SigningCredentials = new SigningCredentials(
                new SymmetricSecurityKey(Encoding.UTF8.GetBytes(options.SigningKey)), SecurityAlgorithms.HmacSha256),
        });

        ApiTrace.DevTokenMinted(loggers.CreateLogger(typeof(DevTokenApi).FullName!), userId, tenantId, scopes);
        return TypedResults.Ok(new DevTokenResponse(token, "Bearer", expires, userId, tenantId, scopes));
    }
}
