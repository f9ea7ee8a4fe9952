using Chat.Api.Contracts;
using Chat.Api.Infrastructure;
using Chat.Api.Sse;
using Chat.Data;
using Chat.Data.Entities;
using Chat.Messaging;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Chat.Api.Services;

/// <summary>
/// Answers a REST send (<c>POST …/messages</c>, <c>POST /api/v1/chat</c>) the way the caller asked: JSON once the reply
/// is done (202 when <c>Messages:SyncReplyTimeout</c> passes first), SSE while it streams, or 202 at once
/// (<c>Prefer: respond-async</c>). The generation runs in the background whichever way, and whatever the caller does.
/// Which state a send is in is <see cref="ReplyResolver"/>'s to say; this class only renders it.
/// </summary>
public sealed class ReplyResponder(ChatDbContext db, ReplyResolver resolver, GenerationFollower follower)
{
    public async Task<Results<Created<PostMessageResponse>, Ok<PostMessageResponse>, Accepted<PostMessageResponse>, ServerSentEventsResult<string>, ProblemHttpResult>> RespondAsync(
        HttpContext http, ReplyStart start, string messagesPath, CancellationToken cancellationToken)
    {
        var result = await resolver.ResolveAsync(http, start, DeliveryOf(http.Request), cancellationToken);
        var user = start.UserMessage;
        var started = start.Assistant;
        switch (result.State)
        {
            case ReplyState.NotFound:
                return ApiProblems.ConversationNotFound();
            case ReplyState.Archived:
                return ApiProblems.ConversationArchived();
            case ReplyState.RouteFailed:
                return ApiProblems.Llm(start.Error!);
            case ReplyState.QueueFull:
                http.Response.Headers.RetryAfter = "1";
                return ApiProblems.Problem(StatusCodes.Status503ServiceUnavailable, ProblemCodes.QueueFull,
                    "Too many replies in progress.", "Your message was stored; retry the reply shortly.");
            case ReplyState.Stored:
                return TypedResults.Created($"{messagesPath}/{user!.Id}", Body(user, null));
            case ReplyState.Existing:
                return TypedResults.Ok(Body(user!, started is null ? null : await ReloadAsync(started.Id, cancellationToken)));
            case ReplyState.Streaming:
                return Follow(http, started!.ConversationId, started.GenerationId!.Value, -1, start.Live, cancellationToken);
            case ReplyState.Accepted or ReplyState.StillRunning:
                // Say where to follow it rather than hold the request open.
                return TypedResults.Accepted($"/api/v1/generations/{started!.GenerationId:D}", Body(user!, started));
            default:
                // Completed, failed or cancelled: the stored message says which.
                return TypedResults.Created($"{messagesPath}/{user!.Id}", Body(user, await ReloadAsync(started!.Id, cancellationToken)));
        }
    }

    /// <summary>
    /// A generation's frames after <paramref name="after"/> as SSE until its terminal frame (<see cref="GenerationFollower"/>),
    /// with the generation's id in <c>X-Generation-Id</c>.
    /// </summary>
    public ServerSentEventsResult<string> Follow(HttpContext http, Guid conversationId, Guid generationId, long after,
        GenerationFeed.Follower? live, CancellationToken cancellationToken)
    {
        DatabaseUnavailable.LiftBound(http);
        http.Response.Headers["X-Generation-Id"] = generationId.ToString("D");
        return EventStream.Result(http.Response, EventStream.Frames(follower.Frames(conversationId, generationId, after, live, cancellationToken)));
    }

    /// <summary>How the caller wants the reply: <c>Prefer: respond-async</c>, else <c>Accept: text/event-stream</c>, else JSON once done.</summary>
    public static ReplyResult.Delivery DeliveryOf(HttpRequest request) =>
        WantsAsync(request) ? ReplyResult.Delivery.Async
        : EventStream.WantsEventStream(request) ? ReplyResult.Delivery.Stream
        : ReplyResult.Delivery.Wait;

    private static bool WantsAsync(HttpRequest request) =>
        request.Headers.TryGetValue("Prefer", out var prefer)
        && prefer.Any(p => p?.Contains("respond-async", StringComparison.OrdinalIgnoreCase) == true);

    private Task<Message?> ReloadAsync(Guid assistantId, CancellationToken cancellationToken) =>
        db.Messages.AsNoTracking().FirstOrDefaultAsync(m => m.Id == assistantId, cancellationToken);

    private static PostMessageResponse Body(Message user, Message? assistant) => new(
        MessageResponse.From(user),
        assistant?.GenerationId is null ? null : GenerationResponse.From(assistant),
        assistant is null ? null : MessageResponse.From(assistant));
}
