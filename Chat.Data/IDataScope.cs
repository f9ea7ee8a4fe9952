namespace Chat.Data;

/// <summary>
/// Whose rows a <see cref="ChatDbContext"/> may see. The context's global query filters are bound to it, so a
/// query that forgets its <c>where</c> still cannot read across tenants or users. A scope with no tenant sees
/// nothing (fail closed); only the <see cref="DataScope.System"/> scope (migrations, purge) sees everything.
/// </summary>
public interface IDataScope
{
    string? TenantId { get; }
    string? UserId { get; }
    bool Unrestricted { get; }
}

public sealed record DataScope(string? TenantId, string? UserId, bool Unrestricted = false) : IDataScope
{
    /// <summary>For background work that is not on behalf of a user: migrations, seeding, retention purge.</summary>
    public static DataScope System { get; } = new(null, null, Unrestricted: true);

    /// <summary>Sees nothing: the default when no user is known.</summary>
    public static DataScope None { get; } = new(null, null);
}
