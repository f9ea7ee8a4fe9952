using Chat.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Chat.Data.Configurations;

internal sealed class MessageConfiguration(ChatDbContext context) : IEntityTypeConfiguration<Message>
{
    public void Configure(EntityTypeBuilder<Message> b)
    {
        b.ToTable("chat_messages", t =>
        {
            t.HasCheckConstraint("ck_chat_messages_role", "role IN ('system', 'user', 'assistant')");
            t.HasCheckConstraint("ck_chat_messages_status", "status IN ('completed', 'streaming', 'failed', 'cancelled', 'interrupted')");
        });

        b.HasKey(m => m.Id);
        b.Property(m => m.Id).HasColumnName("id").ValueGeneratedNever();
        b.Property(m => m.ConversationId).HasColumnName("conversation_id");
        b.Property(m => m.TenantId).HasColumnName("tenant_id").HasMaxLength(Limits.IdentifierLength).IsRequired();
        b.Property(m => m.UserId).HasColumnName("user_id").HasMaxLength(Limits.IdentifierLength).IsRequired();
        b.Property(m => m.Role).HasColumnName("role").HasMaxLength(16).HasConversion(EnumText.Converter<MessageRole>());
        b.Property(m => m.Content).HasColumnName("content").IsRequired();
        b.Property(m => m.Status).HasColumnName("status").HasMaxLength(16)
            .HasConversion(EnumText.Converter<MessageStatus>()).HasDefaultValueSql("'completed'");
        b.Property(m => m.Model).HasColumnName("model").HasMaxLength(Limits.ModelLength);
        b.Property(m => m.Provider).HasColumnName("provider").HasMaxLength(Limits.ModelLength);
        b.Property(m => m.PromptTokens).HasColumnName("prompt_tokens");
        b.Property(m => m.CompletionTokens).HasColumnName("completion_tokens");
        b.Property(m => m.TotalTokens).HasColumnName("total_tokens");
        b.Property(m => m.FinishReason).HasColumnName("finish_reason").HasMaxLength(32);
        b.Property(m => m.ClientMessageId).HasColumnName("client_message_id").HasMaxLength(Limits.IdentifierLength);
        b.Property(m => m.GenerationId).HasColumnName("generation_id");
        b.Property(m => m.ParentMessageId).HasColumnName("parent_message_id");
        b.Property(m => m.ContextMessageIds).HasColumnName("context_message_ids");
        b.Property(m => m.ContextTokens).HasColumnName("context_tokens");
        b.Property(m => m.TimeToFirstTokenMs).HasColumnName("time_to_first_token_ms");
        b.Property(m => m.DurationMs).HasColumnName("duration_ms");
        b.Property(m => m.ErrorCode).HasColumnName("error_code").HasMaxLength(64);
        b.Property(m => m.LeaseOwner).HasColumnName("lease_owner").HasMaxLength(Limits.IdentifierLength);
        b.Property(m => m.LeaseExpiresAt).HasColumnName("lease_expires_at");
        b.Property(m => m.CheckpointChunks).HasColumnName("checkpoint_chunks");
        b.Property(m => m.CreatedAt).HasColumnName("created_at").HasDefaultValueSql("clock_timestamp()");
        b.Property(m => m.UpdatedAt).HasColumnName("updated_at").HasDefaultValueSql("clock_timestamp()").ValueGeneratedOnAddOrUpdate();

        // A conversation's messages in order: keyset on (created_at, id).
        b.HasIndex(m => new { m.ConversationId, m.CreatedAt, m.Id })
            .HasDatabaseName("ix_chat_messages_conversation_order");
        // Idempotent sends: one message per (conversation, client message id).
        b.HasIndex(m => new { m.ConversationId, m.ClientMessageId })
            .HasDatabaseName("ux_chat_messages_client_message_id")
            .IsUnique()
            .HasFilter("client_message_id IS NOT NULL");
        b.HasIndex(m => m.GenerationId)
            .HasDatabaseName("ux_chat_messages_generation_id")
            .IsUnique()
            .HasFilter("generation_id IS NOT NULL");

        // The sweeper's scan: streaming generations by lease expiry (a handful of rows, whatever the table's size).
        b.HasIndex(m => m.LeaseExpiresAt)
            .HasDatabaseName("ix_chat_messages_streaming_lease")
            .HasFilter("status = 'streaming'");

        b.HasQueryFilter(ChatDbContext.OwnerFilter, m =>
            context.ScopeUnrestricted || (m.TenantId == context.ScopeTenantId && m.UserId == context.ScopeUserId));
    }
}
