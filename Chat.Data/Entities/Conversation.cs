namespace Chat.Data.Entities;

/// <summary>A conversation owned by one user of one tenant. Maps to <c>chat_conversations</c>.</summary>
public sealed class Conversation
{
    public Guid Id { get; set; }
    public required string TenantId { get; set; }
    public required string UserId { get; set; }
    public string? Title { get; set; }
    public string? Model { get; set; }
    public string? Provider { get; set; }
    public string? SystemPrompt { get; set; }
    public ConversationStatus Status { get; set; } = ConversationStatus.Active;

    /// <summary>Maintained by the database (trigger on <c>chat_messages</c>); never written by the application.</summary>
    public int MessageCount { get; private set; }

    /// <summary>Maintained by the database (trigger on <c>chat_messages</c>).</summary>
    public DateTimeOffset? LastMessageAt { get; private set; }

    /// <summary>Generated column: <c>coalesce(last_message_at, created_at)</c>, the key conversations are listed by.</summary>
    public DateTimeOffset LastActivityAt { get; private set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Maintained by the database (trigger on update).</summary>
    public DateTimeOffset UpdatedAt { get; private set; }

    public DateTimeOffset? DeletedAt { get; set; }

    /// <summary>PostgreSQL's <c>xmin</c>: changes on every write; the ETag and the optimistic-concurrency token.</summary>
    public uint Version { get; private set; }

    public List<Message> Messages { get; } = [];
}

public enum ConversationStatus
{
    Active,
    Archived,
}
