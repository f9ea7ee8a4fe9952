using Chat.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Chat.Data.Configurations;

internal sealed class ConversationConfiguration(ChatDbContext context) : IEntityTypeConfiguration<Conversation>
{
    public void Configure(EntityTypeBuilder<Conversation> b)
    {
        b.ToTable("chat_conversations", t =>
        {
            t.HasCheckConstraint("ck_chat_conversations_status", "status IN ('active', 'archived')");
            t.HasCheckConstraint("ck_chat_conversations_message_count", "message_count >= 0");
        });

        b.HasKey(c => c.Id);
        b.Property(c => c.Id).HasColumnName("id").ValueGeneratedNever();
        b.Property(c => c.TenantId).HasColumnName("tenant_id").HasMaxLength(Limits.IdentifierLength).IsRequired();
        b.Property(c => c.UserId).HasColumnName("user_id").HasMaxLength(Limits.IdentifierLength).IsRequired();
        b.Property(c => c.Title).HasColumnName("title").HasMaxLength(Limits.TitleLength);
        b.Property(c => c.Model).HasColumnName("model").HasMaxLength(Limits.ModelLength);
        b.Property(c => c.Provider).HasColumnName("provider").HasMaxLength(Limits.ModelLength);
        b.Property(c => c.SystemPrompt).HasColumnName("system_prompt");
        b.Property(c => c.Status).HasColumnName("status").HasMaxLength(16)
            .HasConversion(EnumText.Converter<ConversationStatus>()).HasDefaultValueSql("'active'");
        b.Property(c => c.MessageCount).HasColumnName("message_count").HasDefaultValue(0).ValueGeneratedOnAddOrUpdate();
        b.Property(c => c.LastMessageAt).HasColumnName("last_message_at").ValueGeneratedOnAddOrUpdate();
        b.Property(c => c.LastActivityAt).HasColumnName("last_activity_at")
            .HasComputedColumnSql("coalesce(last_message_at, created_at)", stored: true);
        b.Property(c => c.CreatedAt).HasColumnName("created_at").HasDefaultValueSql("now()");
        b.Property(c => c.UpdatedAt).HasColumnName("updated_at").HasDefaultValueSql("now()").ValueGeneratedOnAddOrUpdate();
        b.Property(c => c.DeletedAt).HasColumnName("deleted_at");
        b.Property(c => c.Version).IsRowVersion();

        // Listing a user's conversations by recency (keyset on last_activity_at, id) is one index range scan.
        b.HasIndex(c => new { c.TenantId, c.UserId, c.Status, c.LastActivityAt, c.Id })
            .HasDatabaseName("ix_chat_conversations_owner_recency")
            .IsDescending(false, false, false, true, true)
            .HasFilter("deleted_at IS NULL");
        // Listing deleted conversations (restore) and the retention purge.
        b.HasIndex(c => new { c.TenantId, c.UserId, c.DeletedAt })
            .HasDatabaseName("ix_chat_conversations_owner_deleted")
            .HasFilter("deleted_at IS NOT NULL");
        b.HasIndex(c => c.DeletedAt)
            .HasDatabaseName("ix_chat_conversations_deleted_at")
            .HasFilter("deleted_at IS NOT NULL");

        b.HasMany(c => c.Messages).WithOne(m => m.Conversation)
            .HasForeignKey(m => m.ConversationId)
            .HasConstraintName("fk_chat_messages_conversation")
            .OnDelete(DeleteBehavior.Cascade);

        b.HasQueryFilter(ChatDbContext.OwnerFilter, c =>
            context.ScopeUnrestricted || (c.TenantId == context.ScopeTenantId && c.UserId == context.ScopeUserId));
        b.HasQueryFilter(ChatDbContext.SoftDeleteFilter, c => c.DeletedAt == null);
    }
}
