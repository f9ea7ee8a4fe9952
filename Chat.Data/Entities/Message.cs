namespace Chat.Data.Entities;

/// <summary>One message of a conversation. Maps to <c>chat_messages</c>.</summary>
public sealed class Message
{
    /// <summary>A version-7 (time-ordered) UUID: ordering by id follows creation order.</summary>
    public Guid Id { get; set; }
    public Guid ConversationId { get; set; }
    public required string TenantId { get; set; }
    public required string UserId { get; set; }
    public MessageRole Role { get; set; }
    public string Content { get; set; } = "";
    public MessageStatus Status { get; set; } = MessageStatus.Completed;
    public string? Model { get; set; }
    public string? Provider { get; set; }
    public int? PromptTokens { get; set; }
    public int? CompletionTokens { get; set; }
    public int? TotalTokens { get; set; }
    public string? FinishReason { get; set; }

    /// <summary>The client's idempotency key: unique per conversation.</summary>
    public string? ClientMessageId { get; set; }

    /// <summary>For an assistant message: the generation that produced it (the streaming contract's key).</summary>
    public Guid? GenerationId { get; set; }

    /// <summary>For an assistant message: the user message it answers.</summary>
    public Guid? ParentMessageId { get; set; }

    /// <summary>For an assistant message: the ids of the messages sent to the model as context.</summary>
    public List<Guid>? ContextMessageIds { get; set; }

    /// <summary>For an assistant message: how many tokens of context were sent.</summary>
    public int? ContextTokens { get; set; }

    public int? TimeToFirstTokenMs { get; set; }
    public int? DurationMs { get; set; }
    public string? ErrorCode { get; set; }

    /// <summary>For a <c>streaming</c> assistant message: the chat-api process that runs its generation.</summary>
    public string? LeaseOwner { get; set; }

    /// <summary>For a <c>streaming</c> assistant message: when its owner's lease runs out unless renewed; after that any
    /// replica may sweep the generation (status <c>interrupted</c>). Null on rows written before leases existed.</summary>
    public DateTimeOffset? LeaseExpiresAt { get; set; }

    /// <summary>For a <c>streaming</c> assistant message: how many chunks the checkpointed <see cref="Content"/> holds.</summary>
    public long? CheckpointChunks { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Maintained by the database (trigger on update).</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    public Conversation? Conversation { get; set; }
}

public enum MessageRole
{
    System,
    User,
    Assistant,
}

public enum MessageStatus
{
    Completed,
    Streaming,
    Failed,
    Cancelled,

    /// <summary>The process running the generation died (or lost its lease); the text that survived is kept.</summary>
    Interrupted,
}
