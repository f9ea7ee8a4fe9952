using System.Security.Claims;

namespace Chat.ServiceDefaults.Authentication;

/// <summary>The caller as Chat sees it: claims <c>sub</c>, <c>tenant_id</c> and space-separated <c>scope</c>.</summary>
public sealed record ChatUser(string TenantId, string UserId, IReadOnlySet<string> Scopes)
{
    public const string SubjectClaim = "sub";
    public const string TenantClaim = "tenant_id";
    public const string ScopeClaim = "scope";

    public bool HasScope(string scope) => Scopes.Contains(scope);

    /// <summary>
    /// Whether the principal names at most one user and one tenant. A JWT claim given as an array becomes one claim per
    /// element; taking the first would let the token's order decide whose data a request sees, so such a token is refused.
    /// (<c>sub</c> is a registered claim the token handler already refuses as an array; checked here too.)
    /// </summary>
    public static bool HasAtMostOneIdentity(ClaimsPrincipal principal) =>
        CountAtMostOne(principal, SubjectClaim) && CountAtMostOne(principal, TenantClaim);

    /// <summary>Reads the caller from a validated principal; false when a required claim is missing or given more than once.</summary>
    public static bool TryFrom(ClaimsPrincipal principal, out ChatUser user)
    {
        var sub = principal.FindFirst(SubjectClaim)?.Value;
        var tenant = principal.FindFirst(TenantClaim)?.Value;
        if (principal.Identity?.IsAuthenticated != true || string.IsNullOrWhiteSpace(sub) || string.IsNullOrWhiteSpace(tenant)
            || !HasAtMostOneIdentity(principal))
        {
            user = null!;
            return false;
        }
        var scopes = principal.FindAll(ScopeClaim)
            .SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .ToHashSet(StringComparer.Ordinal);
        user = new ChatUser(tenant, sub, scopes);
        return true;
    }

    private static bool CountAtMostOne(ClaimsPrincipal principal, string type)
    {
        var seen = 0;
        foreach (var identity in principal.Identities)
        {
            foreach (var claim in identity.Claims)
            {
                if (claim.Type == type && ++seen > 1)
                {
                    return false;
                }
            }
        }
        return true;
    }
}

/// <summary>Scopes and the authorization policies named after them.</summary>
public static class ChatScopes
{
    public const string Read = "chat.read";
    public const string Write = "chat.write";
}
