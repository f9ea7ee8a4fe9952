using Chat.Api.Extensions;
using Chat.Data;
using Chat.Data.Entities;
using Chat.Llm;
using Chat.Llm.Context;
using Chat.Llm.Generation;
using Chat.Llm.Routing;
using Chat.Messaging;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Chat.Api.Services;

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

/// <summary>
/// Turns a user's message into a reply: routes to a model, builds the context from the conversation's history plus
/// the new message, queues the generation, and stores the message (idempotently) together with the assistant message
/// in status <c>streaming</c> — and, for a conversation the message starts, the conversation — in one statement. The
/// queued generation calls its provider at once but publishes nothing until that statement has committed, and is
/// dropped if it did not. The queue's worker runs it whatever happens to the caller; frames go to Redis as it
/// streams. Nothing is stored when the route or the context fails.
/// </summary>
public sealed class ReplyService(
    ChatDbContext db,
    IDataScope scope,
    MessageService messages,
    GenerationPlanner planner,
    ModelRouter router,
    GenerationQueue queue,
    GenerationFeed feed,
    IOptions<MessagesOptions> options)
{
    /// <summary>
    /// Stores the message and starts its reply (see the class). With <c>stream</c>, the caller streams the reply from this
    /// process: a started one comes with <see cref="ReplyStart.Live"/>, its frames handed over as they are produced.
    /// </summary>
    public async Task<ReplyStart> StartAsync(
        Guid conversationId, string content, string? clientMessageId, RouteChoice request, CancellationToken cancellationToken,
        int? maxOutputTokens = null, float? temperature = null, bool reply = true, NewConversation? created = null, bool stream = false)
    {
        // Route before storing anything, so an unknown model is a clean 4xx that leaves no orphan message.
        var conversation = created?.Conversation
            ?? await db.Conversations.AsNoTracking().FirstOrDefaultAsync(c => c.Id == conversationId, cancellationToken);
        if (conversation is null)
        {
            return new ReplyStart(ReplyOutcome.NotFound);
        }
        var conversationRoute = new RouteChoice(conversation.Model, conversation.Provider);
        try
        {
            router.Resolve(request, conversationRoute);
        }
        catch (LlmException ex)
        {
            return new ReplyStart(ReplyOutcome.RouteFailed, Error: ex);
        }

        if (clientMessageId is not null && await messages.FindByClientIdAsync(conversationId, clientMessageId, cancellationToken) is { } earlier)
        {
            return new ReplyStart(ReplyOutcome.Existing, earlier, await messages.FindReplyAsync(conversationId, earlier.Id, cancellationToken));
        }
        if (conversation.Status == ConversationStatus.Archived)
        {
            return new ReplyStart(ReplyOutcome.Archived);
        }

        // The context is read before the insert and the new message appended to it, so the message and its reply's
        // placeholder go in together, in one statement: three round trips from here to the queue.
        var messageId = Guid.CreateVersion7();
        PreparedGeneration? prepared = null;
        if (reply)
        {
            var history = created is { HasHistory: false } ? [] : await HistoryAsync(conversationId, cancellationToken);
            history.Add(new HistoryMessage(messageId, "user", content));
            try
            {
                prepared = planner.Prepare(conversationId, request, conversationRoute, conversation.SystemPrompt, history, maxOutputTokens, temperature);
            }
            catch (LlmException ex)
            {
                return new ReplyStart(ReplyOutcome.RouteFailed, Error: ex);
            }
        }

        var placeholder = prepared is null ? null : new ReplyPlaceholder(
            prepared.Job.AssistantMessageId, prepared.Job.GenerationId, prepared.Model.Name, prepared.Model.Provider,
            [.. prepared.Context.IncludedMessageIds], prepared.Context.PromptTokens);
        // The generation is queued before the store, gated on it (GenerationJob.Persisted): the provider's request
        // overlaps the commit, and nothing is streamed or stored for the reply unless the commit succeeds.
        var persisted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<GenerationOutcome>? completion = null;
        // Opened before the job is queued, so the follower misses no frame.
        var live = stream && prepared is not null ? feed.Open(prepared.Job.GenerationId) : null;
        var queued = prepared is not null && queue.TryEnqueue(prepared.Job with { Persisted = persisted.Task }, out completion);
        try
        {
            // Once a job waits on it, the store runs to its end whatever the caller does: it decides the job's fate.
            var appended = await messages.AppendTurnAsync(conversationId, messageId, content, clientMessageId, placeholder,
                queued ? CancellationToken.None : cancellationToken,
                newConversation: created is { HasHistory: false } ? created.Conversation : null);
            switch (appended.Outcome)
            {
                case AppendOutcome.NotFound:
                    return new ReplyStart(ReplyOutcome.NotFound);
                case AppendOutcome.Existing:
                    return new ReplyStart(ReplyOutcome.Existing, appended.Message, appended.Assistant);
            }

            var user = appended.Message!;
            if (prepared is null)
            {
                return new ReplyStart(ReplyOutcome.Stored, user);
            }
            var assistant = appended.Assistant!;
            if (!queued)
            {
                await db.Messages.Where(m => m.Id == assistant.Id).ExecuteUpdateAsync(set => set
                    .SetProperty(m => m.Status, MessageStatus.Failed)
                    .SetProperty(m => m.ErrorCode, "queue_full"), cancellationToken);
                return new ReplyStart(ReplyOutcome.QueueFull, user);
            }
            persisted.SetResult();
            var started = new ReplyStart(ReplyOutcome.Started, user, assistant, completion, Live: live);
            live = null;
            return started;
        }
        finally
        {
            // Not stored (refused, or the store threw): the queued job is dropped without a frame or a write.
            persisted.TrySetCanceled(CancellationToken.None);
            live?.Dispose();
        }
    }

    /// <summary>
    /// Stores a new conversation (<see cref="ConversationService.New"/>) with the earlier turns a client brings along
    /// (the OpenAI-compatible surface sends whole histories) as completed messages, in order and in one batch, so the
    /// reply's context is built from stored rows.
    /// </summary>
    public async Task ImportTurnsAsync(Conversation conversation, IEnumerable<HistoryMessage> turns, CancellationToken cancellationToken)
    {
        var conversationId = conversation.Id;
        db.Conversations.Add(conversation);
        var at = DateTimeOffset.UtcNow.AddSeconds(-1);
        foreach (var turn in turns)
        {
            db.Messages.Add(new Message
            {
                Id = Guid.CreateVersion7(),
                ConversationId = conversationId,
                TenantId = scope.TenantId!,
                UserId = scope.UserId!,
                Role = turn.Role == "assistant" ? MessageRole.Assistant : MessageRole.User,
                Content = turn.Content,
                Status = MessageStatus.Completed,
                CreatedAt = at,
            });
            at = at.AddTicks(10);
        }
        await db.SaveChangesAsync(cancellationToken);
    }

    /// <summary>The newest completed turns (the context builder keeps what fits), oldest first.</summary>
    private async Task<List<HistoryMessage>> HistoryAsync(Guid conversationId, CancellationToken cancellationToken)
    {
        var rows = await db.Messages.AsNoTracking()
            .Where(m => m.ConversationId == conversationId && m.Status == MessageStatus.Completed)
            .OrderByDescending(m => m.CreatedAt).ThenByDescending(m => m.Id)
            .Take(options.Value.MaxHistoryMessages)
            .Select(m => new { m.Id, m.Role, m.Content })
            .ToListAsync(cancellationToken);
        rows.Reverse();
        return [.. rows.Select(m => new HistoryMessage(m.Id, m.Role.ToString().ToLowerInvariant(), m.Content))];
    }
}
