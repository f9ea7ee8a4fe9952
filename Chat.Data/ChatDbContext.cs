using Chat.Data.Configurations;
using Chat.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace Chat.Data;

public sealed class ChatDbContext(DbContextOptions<ChatDbContext> options, IDataScope? scope = null) : DbContext(options)
{
    /// <summary>Name of the owner filter; only code running as <see cref="DataScope.System"/> may need to bypass it.</summary>
    public const string OwnerFilter = "owner";

    /// <summary>Name of the soft-delete filter; bypassed to list or restore deleted conversations.</summary>
    public const string SoftDeleteFilter = "soft-delete";

    private readonly IDataScope _scope = scope ?? DataScope.None;

    public DbSet<Conversation> Conversations => Set<Conversation>();
    public DbSet<Message> Messages => Set<Message>();

    // Referenced by the query filters: EF Core parameterises members of the context, so one compiled model serves
    // every request's scope.
    internal string? ScopeTenantId => _scope.TenantId;
    internal string? ScopeUserId => _scope.UserId;
    internal bool ScopeUnrestricted => _scope.Unrestricted;

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfiguration(new ConversationConfiguration(this));
        modelBuilder.ApplyConfiguration(new MessageConfiguration(this));
    }
}
