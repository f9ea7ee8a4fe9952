using System.Security.Claims;

namespace Chat.ServiceDefaults.Authentication;

/// <summary>The caller as Chat sees it: claims <c>sub</c>, <c>tenant_id</c> and space-separated <c>scope</c>.</summary>
public sealed record ChatUser(string TenantId, string UserId, IReadOnlySet<string> Scopes)
{
    public const string SubjectClaim = "sub";
    public const string TenantClaim = "tenant_id";
    public const string ScopeClaim = "scope";

    public bool HasScope(string scope) => Scopes.Contains(scope);

    /// <summary>Reads the caller from a validated principal; false when a required claim is missing.</summary>
    public static bool TryFrom(ClaimsPrincipal principal, out ChatUser user)
    {
        var sub = principal.FindFirst(SubjectClaim)?.Value;
        var tenant = principal.FindFirst(TenantClaim)?.Value;
        if (principal.Identity?.IsAuthenticated != true || string.IsNullOrWhiteSpace(sub) || string.IsNullOrWhiteSpace(tenant))
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
}

/// <summary>Scopes and the authorization policies named after them.</summary>
public static class ChatScopes
{
    public const string Read = "chat.read";
    public const string Write = "chat.write";
}
