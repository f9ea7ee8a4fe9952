using Chat.Data.Configurations;
using Chat.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace Chat.Data;

/// <summary>
/// The chat schema. Its query filters read the <see cref="IDataScope"/> the context is bound to: given to the
/// constructor, or — for the pooled contexts the services use — bound on lease by <see cref="Microsoft.Extensions.Hosting.DataExtensions"/> and
/// cleared when the context goes back to the pool, so a pooled context never carries one caller's scope to the next.
/// </summary>
public sealed class ChatDbContext : DbContext
{
    /// <summary>Name of the owner filter; only code running as <see cref="DataScope.System"/> may need to bypass it.</summary>
    public const string OwnerFilter = "owner";

    /// <summary>Name of the soft-delete filter; bypassed to list or restore deleted conversations.</summary>
    public const string SoftDeleteFilter = "soft-delete";

    private IDataScope _scope;

    /// <summary>The only constructor (the context pool requires that): sees nothing until bound to a scope.</summary>
    public ChatDbContext(DbContextOptions<ChatDbContext> options)
        : base(options) => _scope = DataScope.None;

    /// <summary>A context of its own (not pooled) bound to <paramref name="scope"/>: background work, tools, tests.</summary>
    public static ChatDbContext Create(DbContextOptions<ChatDbContext> options, IDataScope scope)
    {
        var context = new ChatDbContext(options);
        context.BindScope(scope);
        return context;
    }

    public DbSet<Conversation> Conversations => Set<Conversation>();
    public DbSet<Message> Messages => Set<Message>();

    // Referenced by the query filters: EF Core parameterises members of the context, so one compiled model serves
    // every request's scope.
    internal string? ScopeTenantId => _scope.TenantId;
    internal string? ScopeUserId => _scope.UserId;
    internal bool ScopeUnrestricted => _scope.Unrestricted;

    /// <summary>Binds a leased pooled context to the caller's scope.</summary>
    internal void BindScope(IDataScope scope) => _scope = scope;

    // A pooled context is returned to the pool by Dispose: it forgets its caller first (fail closed if leased unbound).
    public override void Dispose()
    {
        _scope = DataScope.None;
        base.Dispose();
    }

    public override ValueTask DisposeAsync()
    {
        _scope = DataScope.None;
        return base.DisposeAsync();
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfiguration(new ConversationConfiguration(this));
        modelBuilder.ApplyConfiguration(new MessageConfiguration(this));
    }
}
