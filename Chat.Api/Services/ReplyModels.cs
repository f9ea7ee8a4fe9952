using Chat.Data.Entities;
using Chat.Llm;
using Chat.Llm.Generation;
using Chat.Llm.Routing;
using Chat.Messaging;

namespace Chat.Api.Services;

/// <summary>
/// What a caller asks of <see cref="ReplyService.StartAsync"/>: store <paramref name="Content"/> as the user's message in
/// the conversation and (unless <see cref="Reply"/> is false) start the assistant's reply.
/// </summary>
public sealed record ReplyRequest(Guid ConversationId, string Content)
{
    /// <summary>The client's idempotency key: a retry with a known one stores and starts nothing.</summary>
    public string? ClientMessageId { get; init; }

    /// <summary>The model/provider the caller asked for; the conversation's own, then the default, fill the gaps.</summary>
    public RouteChoice Route { get; init; } = new(null, null);

    public int? MaxOutputTokens { get; init; }

    public float? Temperature { get; init; }

    /// <summary>False: store the message only (201 with no reply).</summary>
    public bool Reply { get; init; } = true;

    /// <summary>The conversation this same request starts, if it does (see <see cref="NewConversation"/>).</summary>
    public NewConversation? Created { get; init; }

    /// <summary>The caller streams the reply from this process: a started one comes with <see cref="ReplyStart.Live"/>.</summary>
    public bool Stream { get; init; }
}

public enum ReplyOutcome
{
    /// <summary>The user's message was stored and a generation queued.</summary>
    Started,

    /// <summary>The user's message was stored and no reply was asked for.</summary>
    Stored,

    /// <summary>A retry with a known <c>clientMessageId</c>: nothing new was stored or started.</summary>
    Existing,
    NotFound,
    Archived,

    /// <summary>The model/provider could not be resolved (<see cref="ReplyStart.Error"/> says why); nothing was stored.</summary>
    RouteFailed,

    /// <summary>The generation queue is full; the user's message is stored, the reply is not started.</summary>
    QueueFull,
}

/// <summary>
/// A conversation the same request starts, handed to <see cref="ReplyService.StartAsync"/> so it is not read back.
/// <paramref name="HasHistory"/>: it is already stored, with the turns the client brought
/// (<see cref="ReplyService.ImportTurnsAsync"/>); else it is new (<see cref="ConversationService.New"/>), stored by the
/// same statement as its first message, and has no history to read.
/// </summary>
public sealed record NewConversation(Conversation Conversation, bool HasHistory);

/// <summary>
/// What <see cref="ReplyService.StartAsync"/> did. <paramref name="Live"/>: the started generation's frames in this
/// process, when the caller asked to stream it; the caller disposes it.
/// </summary>
public sealed record ReplyStart(
    ReplyOutcome Outcome,
    Message? UserMessage = null,
    Message? Assistant = null,
    Task<GenerationOutcome>? Completion = null,
    LlmException? Error = null,
    GenerationFeed.Follower? Live = null);
