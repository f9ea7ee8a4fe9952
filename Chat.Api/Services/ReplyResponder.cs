using Chat.Api.Contracts;
using Chat.Api.Extensions;
using Chat.Api.Infrastructure;
using Chat.Data;
using Chat.Data.Entities;
using Chat.Llm.OpenAi;
using Chat.Llm.Options;
using Chat.Messaging;
using Chat.Messaging.Contracts;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Chat.Api.Services;

/// <summary>
/// Answers a started reply the way the caller asked: JSON once it is done, SSE while it streams, or 202 at once
/// (<c>Prefer: respond-async</c>). The generation runs in the background whichever way, and whatever the caller does.
/// </summary>
public sealed class ReplyResponder(
    ChatDbContext db,
    GenerationStreamReader reader,
    IOptions<MessagesOptions> messages,
    IOptions<LlmOptions> llm)
{
    public async Task<Results<Created<PostMessageResponse>, Ok<PostMessageResponse>, Accepted<PostMessageResponse>, EmptyHttpResult, ProblemHttpResult>> RespondAsync(
        HttpContext http, ReplyStart start, string messagesPath, CancellationToken cancellationToken)
    {
        using var live = start.Live;
        switch (start.Outcome)
        {
            case ReplyOutcome.NotFound:
                return ApiProblems.ConversationNotFound();
            case ReplyOutcome.Archived:
                return ApiProblems.ConversationArchived();
            case ReplyOutcome.RouteFailed:
                return ApiProblems.Llm(start.Error!);
            case ReplyOutcome.QueueFull:
                http.Response.Headers.RetryAfter = "1";
                return ApiProblems.Problem(StatusCodes.Status503ServiceUnavailable, ProblemCodes.QueueFull,
                    "Too many replies in progress.", "Your message was stored; retry the reply shortly.");
            case ReplyOutcome.Stored:
                return TypedResults.Created($"{messagesPath}/{start.UserMessage!.Id}", Body(start.UserMessage, null));
            case ReplyOutcome.Existing:
                var assistant = start.Assistant is null ? null : await ReloadAsync(start.Assistant.Id, cancellationToken);
                return TypedResults.Ok(Body(start.UserMessage!, assistant));
        }

        var user = start.UserMessage!;
        var started = start.Assistant!;
        var location = $"{messagesPath}/{user.Id}";
        if (WantsAsync(http.Request))
        {
            http.Response.Headers.Location = location;
            return TypedResults.Accepted($"/api/v1/generations/{started.GenerationId:D}", Body(user, started));
        }

        // Stored: from here the request waits for the model, whose own limits bound it.
        DatabaseUnavailable.LiftBound(http);
        if (SseFormatter.WantsEventStream(http.Request))
        {
            await FollowAsync(http, started.ConversationId, started.GenerationId!.Value, -1, cancellationToken, live);
            return TypedResults.Empty;
        }

        try
        {
            await start.Completion!.WaitAsync(messages.Value.SyncReplyTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            // Still going: say where to follow it rather than hold the request open forever.
            return TypedResults.Accepted($"/api/v1/generations/{started.GenerationId:D}", Body(user, started));
        }
        var finished = await ReloadAsync(started.Id, cancellationToken);
        return TypedResults.Created(location, Body(user, finished));
    }

    /// <summary>Whether <see cref="RespondAsync"/> will stream the reply (SSE): ask <see cref="ReplyService.StartAsync"/> for its frames in process.</summary>
    public static bool Streams(HttpRequest request) => !WantsAsync(request) && SseFormatter.WantsEventStream(request);

    /// <summary>
    /// Writes a generation's frames after <paramref name="after"/> as SSE until its terminal frame (see
    /// <see cref="Frames"/>). A client that leaves ends only its own stream: the generation goes on and can be followed
    /// again with Last-Event-ID.
    /// </summary>
    public async Task FollowAsync(HttpContext http, Guid conversationId, Guid generationId, long after, CancellationToken cancellationToken,
        GenerationFeed.Follower? live = null)
    {
        DatabaseUnavailable.LiftBound(http);
        http.Response.Headers["X-Generation-Id"] = generationId.ToString("D");
        try
        {
            await SseStreaming.WriteFramesAsync(http.Response, Frames(conversationId, generationId, after, live, cancellationToken), cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// A generation's frames after <paramref name="after"/>, up to its terminal frame: from <paramref name="live"/> (which
    /// starts at seq 0) when this process runs it for this request, else from Redis.
    /// </summary>
    public IAsyncEnumerable<GenerationFrame> Frames(Guid conversationId, Guid generationId, long after, GenerationFeed.Follower? live, CancellationToken cancellationToken) =>
        live is null
            ? reader.FollowAsync(conversationId, generationId, after, FollowIdleLimit, cancellationToken)
            : reader.FollowAsync(live, FollowIdleLimit, cancellationToken);

    /// <summary>How long an SSE follower waits for the next frame before giving up: the model's idle limit plus slack.</summary>
    public TimeSpan FollowIdleLimit => llm.Value.Timeouts.Idle + llm.Value.Timeouts.FirstToken;

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
