using Chat.Api.Extensions;
using Chat.Data;
using Chat.Data.Entities;
using Chat.Llm;
using Chat.Llm.Context;
using Chat.Llm.Generation;
using Chat.Llm.Routing;
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

/// <summary>What <see cref="ReplyService.StartAsync"/> did.</summary>
public sealed record ReplyStart(
    ReplyOutcome Outcome,
    Message? UserMessage = null,
    Message? Assistant = null,
    Task<GenerationOutcome>? Completion = null,
    LlmException? Error = null);

/// <summary>
/// Turns a user's message into a reply: stores the message (idempotently), builds the context from the
/// conversation's history, routes to a model, records the assistant message in status <c>streaming</c> and queues
/// the generation. The queue's worker runs it whatever happens to the caller; frames go to Redis as it streams.
/// </summary>
public sealed class ReplyService(
    ChatDbContext db,
    IDataScope scope,
    MessageService messages,
    GenerationPlanner planner,
    ModelRouter router,
    GenerationQueue queue,
    IOptions<MessagesOptions> options)
{
    public async Task<ReplyStart> StartAsync(
        Guid conversationId, string content, string? clientMessageId, RouteChoice request, CancellationToken cancellationToken,
        int? maxOutputTokens = null, float? temperature = null, bool reply = true)
    {
        // Route before storing anything, so an unknown model is a clean 4xx that leaves no orphan message.
        var conversation = await db.Conversations.AsNoTracking().FirstOrDefaultAsync(c => c.Id == conversationId, cancellationToken);
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

        var appended = await messages.AppendUserMessageAsync(conversationId, content, clientMessageId, cancellationToken);
        switch (appended.Outcome)
        {
            case AppendOutcome.NotFound:
                return new ReplyStart(ReplyOutcome.NotFound);
            case AppendOutcome.Archived:
                return new ReplyStart(ReplyOutcome.Archived);
            case AppendOutcome.Existing:
                var earlier = await db.Messages.AsNoTracking()
                    .Where(m => m.ConversationId == conversationId && m.ParentMessageId == appended.Message!.Id)
                    .OrderBy(m => m.CreatedAt).FirstOrDefaultAsync(cancellationToken);
                return new ReplyStart(ReplyOutcome.Existing, appended.Message, earlier);
        }

        var user = appended.Message!;
        if (!reply)
        {
            return new ReplyStart(ReplyOutcome.Stored, user);
        }
        var history = await HistoryAsync(conversationId, cancellationToken);
        PreparedGeneration prepared;
        try
        {
            prepared = planner.Prepare(conversationId, request, conversationRoute, conversation.SystemPrompt, history, maxOutputTokens, temperature);
        }
        catch (LlmException ex)
        {
            return new ReplyStart(ReplyOutcome.RouteFailed, user, Error: ex);
        }

        var job = prepared.Job;
        var assistant = new Message
        {
            Id = job.AssistantMessageId,
            ConversationId = conversationId,
            TenantId = scope.TenantId!,
            UserId = scope.UserId!,
            Role = MessageRole.Assistant,
            Content = "",
            Status = MessageStatus.Streaming,
            Model = prepared.Model.Name,
            Provider = prepared.Model.Provider,
            GenerationId = job.GenerationId,
            ParentMessageId = user.Id,
            ContextMessageIds = [.. prepared.Context.IncludedMessageIds],
            ContextTokens = prepared.Context.PromptTokens,
            CreatedAt = DateTimeOffset.UtcNow,
        };
        db.Messages.Add(assistant);
        await db.SaveChangesAsync(cancellationToken);

        if (!queue.TryEnqueue(job, out var completion))
        {
            await db.Messages.Where(m => m.Id == assistant.Id).ExecuteUpdateAsync(set => set
                .SetProperty(m => m.Status, MessageStatus.Failed)
                .SetProperty(m => m.ErrorCode, "queue_full"), cancellationToken);
            return new ReplyStart(ReplyOutcome.QueueFull, user);
        }
        return new ReplyStart(ReplyOutcome.Started, user, assistant, completion);
    }

    /// <summary>
    /// Stores earlier turns a client brings along (the OpenAI-compatible surface sends whole histories) as completed
    /// messages of a conversation it just created, in order, so the reply's context is built from stored rows.
    /// </summary>
    public async Task ImportTurnsAsync(Guid conversationId, IEnumerable<HistoryMessage> turns, CancellationToken cancellationToken)
    {
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
    private async Task<IReadOnlyList<HistoryMessage>> HistoryAsync(Guid conversationId, CancellationToken cancellationToken)
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
