using Chat.Api.Extensions;
using Chat.Api.Infrastructure;
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
    /// Stores the message and starts its reply (see the class). With <see cref="ReplyRequest.Stream"/>, the caller streams
    /// the reply from this process: a started one comes with <see cref="ReplyStart.Live"/>, its frames handed over as
    /// they are produced.
    /// </summary>
    public async Task<ReplyStart> StartAsync(ReplyRequest request, CancellationToken cancellationToken)
    {
        var (conversation, refused) = await CheckAsync(request, cancellationToken);
        if (refused is not null)
        {
            return refused;
        }

        // The context is read before the insert and the new message appended to it, so the message and its reply's
        // placeholder go in together, in one statement: three round trips from here to the queue.
        var messageId = Guid.CreateVersion7();
        PreparedGeneration? prepared = null;
        if (request.Reply)
        {
            try
            {
                prepared = await PrepareAsync(request, conversation!, messageId, cancellationToken);
            }
            catch (LlmException ex)
            {
                return new ReplyStart(ReplyOutcome.RouteFailed, Error: ex);
            }
        }
        return await StoreAsync(request, messageId, prepared, cancellationToken);
    }

    /// <summary>
    /// The conversation, or why the request is refused before anything is stored: routed first, so an unknown model is
    /// a clean 4xx that leaves no orphan message; then a known <c>clientMessageId</c>, then an archived conversation.
    /// </summary>
    private async Task<(Conversation? Conversation, ReplyStart? Refused)> CheckAsync(ReplyRequest request, CancellationToken cancellationToken)
    {
        var conversationId = request.ConversationId;
        var conversation = request.Created?.Conversation
            ?? await db.Conversations.AsNoTracking().FirstOrDefaultAsync(c => c.Id == conversationId, cancellationToken);
        if (conversation is null)
        {
            return (null, new ReplyStart(ReplyOutcome.NotFound));
        }
        try
        {
            router.Resolve(request.Route, new RouteChoice(conversation.Model, conversation.Provider));
        }
        catch (LlmException ex)
        {
            return (null, new ReplyStart(ReplyOutcome.RouteFailed, Error: ex));
        }

        if (request.ClientMessageId is { } clientId && await messages.FindByClientIdAsync(conversationId, clientId, cancellationToken) is { } earlier)
        {
            return (null, new ReplyStart(ReplyOutcome.Existing, earlier, await messages.FindReplyAsync(conversationId, earlier.Id, cancellationToken)));
        }
        return conversation.Status == ConversationStatus.Archived ? (null, new ReplyStart(ReplyOutcome.Archived)) : (conversation, null);
    }

    /// <summary>The reply's generation: its context is the stored history plus the new message (throws <see cref="LlmException"/>).</summary>
    private async Task<PreparedGeneration> PrepareAsync(ReplyRequest request, Conversation conversation, Guid messageId, CancellationToken cancellationToken)
    {
        var history = request.Created is { HasHistory: false } ? [] : await HistoryAsync(request.ConversationId, cancellationToken);
        history.Add(new HistoryMessage(messageId, "user", request.Content));
        return planner.Prepare(request.ConversationId, request.Route, new RouteChoice(conversation.Model, conversation.Provider),
            conversation.SystemPrompt, history, request.MaxOutputTokens, request.Temperature);
    }

    /// <summary>
    /// Queues the generation, gated on the store (<see cref="GenerationJob.Persisted"/>), then stores the message with
    /// its reply's placeholder: the provider's request overlaps the commit, and nothing is streamed or stored for the
    /// reply unless the commit succeeds.
    /// </summary>
    private async Task<ReplyStart> StoreAsync(ReplyRequest request, Guid messageId, PreparedGeneration? prepared, CancellationToken cancellationToken)
    {
        var persisted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<GenerationOutcome>? completion = null;
        // Opened before the job is queued, so the follower misses no frame.
        var live = request.Stream && prepared is not null ? feed.Open(prepared.Job.GenerationId) : null;
        var queued = prepared is not null && queue.TryEnqueue(prepared.Job with { Persisted = persisted.Task }, out completion);
        try
        {
            // Once a job waits on it, the store runs to its end whatever the caller does: it decides the job's fate.
            var appended = await messages.AppendTurnAsync(request.ConversationId, messageId, request.Content, request.ClientMessageId,
                Placeholder(prepared), queued ? CancellationToken.None : cancellationToken,
                newConversation: request.Created is { HasHistory: false } created ? created.Conversation : null);
            if (appended.Outcome != AppendOutcome.Created || prepared is null)
            {
                return appended.Outcome switch
                {
                    AppendOutcome.NotFound => new ReplyStart(ReplyOutcome.NotFound),
                    AppendOutcome.Existing => new ReplyStart(ReplyOutcome.Existing, appended.Message, appended.Assistant),
                    _ => new ReplyStart(ReplyOutcome.Stored, appended.Message),
                };
            }
            if (!queued)
            {
                await MarkQueueFullAsync(appended.Assistant!.Id, cancellationToken);
                return new ReplyStart(ReplyOutcome.QueueFull, appended.Message);
            }
            persisted.SetResult();
            var started = new ReplyStart(ReplyOutcome.Started, appended.Message, appended.Assistant, completion, Live: live);
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

    private static ReplyPlaceholder? Placeholder(PreparedGeneration? prepared) => prepared is null ? null : new ReplyPlaceholder(
        prepared.Job.AssistantMessageId, prepared.Job.GenerationId, prepared.Model.Name, prepared.Model.Provider,
        [.. prepared.Context.IncludedMessageIds], prepared.Context.PromptTokens);

    private Task<int> MarkQueueFullAsync(Guid assistantId, CancellationToken cancellationToken) =>
        db.Messages.Where(m => m.Id == assistantId).ExecuteUpdateAsync(set => set
            .SetProperty(m => m.Status, MessageStatus.Failed)
            .SetProperty(m => m.ErrorCode, ProblemCodes.QueueFull), cancellationToken);

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
