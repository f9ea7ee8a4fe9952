using Chat.Llm.Providers;
using Chat.Messaging.Contracts;
using Microsoft.Extensions.AI;

namespace Chat.Llm.Generation;

/// <summary>How a run ends: the outcome, and the terminal frame to publish (null when another process ends it).</summary>
internal readonly record struct GenerationEnd(GenerationOutcome Outcome, GenerationFrame? Terminal);

/// <summary>
/// The state of one run of <see cref="GenerationRunner"/>: the frames it numbers (seq 0 started, 1..n one per chunk,
/// n+1 the terminal frame — derived from the chunk count, so no path can skip a number), the text (kept by the
/// <see cref="LeasedGeneration"/>, which checkpoints it), and what the outcome reports.
/// </summary>
internal sealed class GenerationRun(GenerationJob job, LeasedGeneration lease, TimeProvider time)
{
    private readonly long _start = time.GetTimestamp();

    public GenerationJob Job { get; } = job;

    public List<string> Attempts { get; } = [];

    /// <summary>The route producing (or that last tried to produce) the text.</summary>
    public ModelDescriptor Used { get; set; } = job.Route.Primary;

    public int? TimeToFirstTokenMs { get; private set; }

    public FrameUsage? Usage { get; set; }

    public string? FinishReason { get; set; }

    public bool StartedPublished { get; set; }

    public bool HasText => lease.Chunks > 0;

    public GenerationFrame Started() => Frame(FrameTypes.Started, 0) with { Model = Job.Route.Primary.Name, Provider = Job.Route.Primary.Provider };

    /// <summary>Records a non-empty delta and returns its chunk frame.</summary>
    public GenerationFrame Chunk(string delta)
    {
        TimeToFirstTokenMs ??= ElapsedMs;
        return Frame(FrameTypes.Chunk, lease.Append(delta)) with { Delta = delta };
    }

    /// <summary>Records the usage and finish reason an update carries (the text is published by the runner).</summary>
    public void Observe(ChatResponseUpdate update)
    {
        var contents = update.Contents;
        for (var i = 0; i < contents.Count; i++)
        {
            if (contents[i] is UsageContent u)
            {
                Usage = new FrameUsage(ToInt(u.Details.InputTokenCount), ToInt(u.Details.OutputTokenCount), ToInt(u.Details.TotalTokenCount));
            }
        }

        if (update.FinishReason is { } reason)
        {
            FinishReason = reason.Value;
        }
    }

    public GenerationEnd Completed()
    {
        if (Usage is { TotalTokens: null } partial)
        {
            Usage = partial with { TotalTokens = partial.PromptTokens + partial.CompletionTokens };
        }

        FinishReason ??= "stop";
        return new(Outcome(GenerationStatus.Completed), Terminal(FrameTypes.Completed) with { FinishReason = FinishReason, Usage = Usage });
    }

    public GenerationEnd Cancelled() =>
        new(Outcome(GenerationStatus.Cancelled, "cancelled", "The generation was cancelled."), Terminal(FrameTypes.Cancelled));

    public GenerationEnd Failed(string code, string message) =>
        new(Outcome(GenerationStatus.Failed, code, message), Terminal(FrameTypes.Failed) with { Code = code, Message = message });

    /// <summary>Another process took the generation over: it stores and publishes the end, not this run.</summary>
    public GenerationEnd Superseded() =>
        new(Outcome(GenerationStatus.Interrupted, LlmErrorCodes.Interrupted, InterruptedGeneration.Message), null);

    public GenerationOutcome Outcome(GenerationStatus status, string? code = null, string? message = null) => new()
    {
        ConversationId = Job.ConversationId,
        GenerationId = Job.GenerationId,
        AssistantMessageId = Job.AssistantMessageId,
        Status = status,
        Text = lease.Text,
        FinishReason = FinishReason,
        Usage = Usage,
        Model = Used.Name,
        Provider = Used.Provider,
        TimeToFirstTokenMs = TimeToFirstTokenMs,
        DurationMs = ElapsedMs,
        ChunkCount = lease.Chunks,
        ErrorCode = code,
        ErrorMessage = message,
        Attempts = Attempts,
    };

    private static int? ToInt(long? value) => value is null ? null : (int)Math.Min(value.Value, int.MaxValue);

    private int ElapsedMs => (int)time.GetElapsedTime(_start).TotalMilliseconds;

    private GenerationFrame Terminal(string type) => Frame(type, lease.Chunks + 1) with { Model = Used.Name, Provider = Used.Provider };

    private GenerationFrame Frame(string type, long seq) => new()
    {
        Type = type,
        ConversationId = Job.ConversationId,
        GenerationId = Job.GenerationId,
        Seq = seq,
        MessageId = Job.AssistantMessageId,
    };
}
