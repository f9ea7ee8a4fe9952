using Chat.Llm.Generation;

namespace Chat.Api.Services;

/// <summary>
/// What became of a send, whichever surface asked (REST JSON, REST SSE, <c>/v1</c> JSON or stream): each surface
/// renders every state in its own shape (docs/API.md has the table).
/// </summary>
public enum ReplyState
{
    /// <summary>Refused before anything was stored: the conversation is not the caller's, or does not exist.</summary>
    NotFound,

    /// <summary>Refused: the conversation is archived.</summary>
    Archived,

    /// <summary>Refused: the model or provider could not be resolved, or the context does not fit.</summary>
    RouteFailed,

    /// <summary>The message is stored; its reply could not be queued.</summary>
    QueueFull,

    /// <summary>The message is stored and no reply was asked for.</summary>
    Stored,

    /// <summary>A retry with a known <c>clientMessageId</c>: the first result, nothing new started.</summary>
    Existing,

    /// <summary>Started, and the caller follows it elsewhere (<c>Prefer: respond-async</c>).</summary>
    Accepted,

    /// <summary>Started, and the caller streams its frames (SSE).</summary>
    Streaming,

    /// <summary>Started and waited for: it completed.</summary>
    Completed,

    /// <summary>Started and waited for: it failed or was interrupted (<see cref="ReplyResult.ErrorCode"/>).</summary>
    Failed,

    /// <summary>Started and waited for: it was cancelled.</summary>
    Cancelled,

    /// <summary>Started, and still running when the wait (<c>Messages:SyncReplyTimeout</c>) ended.</summary>
    StillRunning,
}

/// <summary>A send's <see cref="ReplyState"/>, with what <see cref="ReplyService.StartAsync"/> did and, once it ended, how the generation ended.</summary>
public sealed record ReplyResult(ReplyState State, ReplyStart Start, GenerationOutcome? Outcome = null)
{
    /// <summary>How the caller wants a started reply delivered.</summary>
    public enum Delivery
    {
        Wait,
        Stream,
        Async,
    }

    /// <summary>The state of a start, before any wait: refusals as they are, a started reply as <paramref name="delivery"/> says.</summary>
    public static ReplyResult Of(ReplyStart start, Delivery delivery) => new(start.Outcome switch
    {
        ReplyOutcome.NotFound => ReplyState.NotFound,
        ReplyOutcome.Archived => ReplyState.Archived,
        ReplyOutcome.RouteFailed => ReplyState.RouteFailed,
        ReplyOutcome.QueueFull => ReplyState.QueueFull,
        ReplyOutcome.Stored => ReplyState.Stored,
        ReplyOutcome.Existing => ReplyState.Existing,
        _ => delivery switch
        {
            Delivery.Async => ReplyState.Accepted,
            Delivery.Stream => ReplyState.Streaming,
            _ => ReplyState.StillRunning,
        },
    }, start);

    /// <summary>The state of a started reply that ended (<paramref name="outcome"/>), or that was still running (null).</summary>
    public static ReplyResult Ended(ReplyStart start, GenerationOutcome? outcome) => new(outcome?.Status switch
    {
        null => ReplyState.StillRunning,
        GenerationStatus.Completed => ReplyState.Completed,
        GenerationStatus.Cancelled => ReplyState.Cancelled,
        _ => ReplyState.Failed,
    }, start, outcome);

    /// <summary>The error code of a refused or unsuccessful reply (Chat's codes, <c>docs/API.md</c>), else null.</summary>
    public string? ErrorCode => State switch
    {
        ReplyState.RouteFailed => Start.Error!.Code,
        ReplyState.Failed => Outcome!.ErrorCode ?? Outcome.Status.ToString().ToLowerInvariant(),
        _ => null,
    };
}
