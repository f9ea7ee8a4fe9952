using Chat.Llm.Options;
using Chat.Llm.Routing;
using Chat.Messaging.Contracts;
using Microsoft.Extensions.AI;

namespace Chat.Llm.Generation;

/// <summary>One generation to run: where its frames go, what it runs on, and the prompt (from <see cref="Context.ContextBuilder"/>).</summary>
public sealed record GenerationJob
{
    public required Guid ConversationId { get; init; }
    public required Guid GenerationId { get; init; }
    public required Guid AssistantMessageId { get; init; }
    public required RoutePlan Route { get; init; }
    public required IReadOnlyList<ChatMessage> Messages { get; init; }

    /// <summary>Overrides the model's <c>MaxOutputTokens</c>.</summary>
    public int? MaxOutputTokens { get; init; }

    public float? Temperature { get; init; }

    /// <summary>
    /// Completes once the messages this generation answers and writes to are committed. The runner starts the
    /// provider's stream at once, so its connection and time to first token overlap the commit, but publishes and
    /// stores nothing before this completes; if it faults or is cancelled the job is dropped, with no frame and no write.
    /// </summary>
    public Task Persisted { get; init; } = Task.CompletedTask;
}

public enum GenerationStatus
{
    Completed,
    Failed,
    Cancelled,

    /// <summary>Its process died or lost its lease: ended by a sweeper (or by the runner that found itself superseded).</summary>
    Interrupted,
}

/// <summary>How a generation ended: what the store persists and the sync reply returns.</summary>
public sealed record GenerationOutcome
{
    public required Guid ConversationId { get; init; }
    public required Guid GenerationId { get; init; }
    public required Guid AssistantMessageId { get; init; }
    public required GenerationStatus Status { get; init; }

    /// <summary>The full reply, or the partial text produced before a failure or cancel.</summary>
    public required string Text { get; init; }

    public string? FinishReason { get; init; }
    public FrameUsage? Usage { get; init; }

    /// <summary>The model and provider that produced the text (after any fallback); the primary route if none did.</summary>
    public required string Model { get; init; }
    public required string Provider { get; init; }

    public int? TimeToFirstTokenMs { get; init; }
    public required int DurationMs { get; init; }

    /// <summary>The number of chunk frames (the terminal frame has seq <c>ChunkCount + 1</c>).</summary>
    public required long ChunkCount { get; init; }

    public string? ErrorCode { get; init; }
    public string? ErrorMessage { get; init; }

    /// <summary>Every route tried, in order, as <c>provider/model</c> (with the failure code for the ones that failed).</summary>
    public required IReadOnlyList<string> Attempts { get; init; }
}

/// <summary>
/// Persistence of a generation's assistant message, implemented by Chat.Api over PostgreSQL. The message is created in
/// status <c>streaming</c>, leased to the process that runs it (<see cref="GenerationOwner"/>) until
/// <see cref="GenerationOptions.LeaseDuration"/> from now. Calls are made with their own bounded token (never the
/// generation's), so a cancelled or failed generation is still recorded.
/// </summary>
public interface IGenerationStore
{
    /// <summary>The generation started running (status <c>streaming</c>, model/provider of the primary route).</summary>
    Task MarkStreamingAsync(GenerationJob job, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the outcome (status, text, usage, finish reason, model, provider, timings, error code) onto the assistant
    /// message if it is still <c>streaming</c> and leased by this process; false when it is not (another process swept
    /// it, or it was already finished).
    /// </summary>
    Task<bool> FinishAsync(GenerationOutcome outcome, CancellationToken cancellationToken);

    /// <summary>
    /// Extends this process's lease on each message by <see cref="GenerationOptions.LeaseDuration"/> and stores the
    /// checkpoints that carry text; returns the messages still leased here (the others were swept or finished).
    /// </summary>
    Task<IReadOnlySet<Guid>> RenewAsync(IReadOnlyList<LeaseRenewal> renewals, CancellationToken cancellationToken);

    /// <summary>Takes the lease of up to <paramref name="max"/> streaming messages whose lease has expired (or that have
    /// none: rows older than leases), for this process to end them; rows another process is claiming are skipped.</summary>
    Task<IReadOnlyList<ExpiredGeneration>> ClaimExpiredAsync(int max, CancellationToken cancellationToken);
}

/// <summary>One lease to extend; <paramref name="Text"/> (with its chunk count) is a checkpoint, null when unchanged.</summary>
public sealed record LeaseRenewal(Guid AssistantMessageId, string? Text, long Chunks);

/// <summary>A streaming assistant message whose owner stopped renewing it, as stored (content = its last checkpoint).</summary>
public sealed record ExpiredGeneration(
    Guid AssistantMessageId, Guid ConversationId, Guid GenerationId, string Content, long? CheckpointChunks, string? Model, string? Provider);
