using Chat.Api.Contracts;
using Chat.Api.Extensions;
using Chat.Api.Infrastructure;
using Chat.Data;
using Chat.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Chat.Api.Services;

public enum UpdateOutcome
{
    Updated,
    NotFound,
    PreconditionFailed,
}

/// <summary>
/// The conversation lifecycle. Every query goes through <see cref="ChatDbContext"/>, whose owner filter is bound to
/// the caller's <see cref="IDataScope"/>: another user's or tenant's conversation simply does not exist here.
/// </summary>
public sealed class ConversationService(
    ChatDbContext db,
    IDataScope scope,
    TimeProvider time,
    IOptions<ConversationsOptions> options)
{
    private const int MaxConcurrencyRetries = 3;

    /// <summary>The title a conversation started by a message gets: the message, trimmed, cut at 60 characters.</summary>
    public static string TitleFrom(string message)
    {
        var title = message.Trim();
        return title.Length <= 60 ? title : string.Concat(title.AsSpan(0, 59), "…");
    }

    public async Task<Conversation> CreateAsync(CreateConversationRequest request, CancellationToken cancellationToken)
    {
        var conversation = New(request);
        db.Conversations.Add(conversation);
        await db.SaveChangesAsync(cancellationToken);
        return conversation;
    }

    /// <summary>
    /// A conversation of the caller, not yet stored: a request that starts a conversation with a message stores it
    /// together with that message (<see cref="ReplyService.StartAsync"/>, one statement), so a refused message leaves
    /// no empty conversation behind. Its database-made values (timestamps, counters) are not set.
    /// </summary>
    public Conversation New(CreateConversationRequest request) => new()
    {
        Id = Guid.CreateVersion7(),
        TenantId = scope.TenantId ?? throw new InvalidOperationException("No tenant in the data scope."),
        UserId = scope.UserId ?? throw new InvalidOperationException("No user in the data scope."),
        Title = Blank(request.Title),
        Model = Blank(request.Model),
        Provider = Blank(request.Provider),
        SystemPrompt = Blank(request.SystemPrompt),
    };

    public Task<Conversation?> GetAsync(Guid id, CancellationToken cancellationToken) =>
        db.Conversations.AsNoTracking().FirstOrDefaultAsync(c => c.Id == id, cancellationToken);

    /// <summary>
    /// A keyset page ordered by (last_activity_at DESC, id DESC): one range scan of
    /// <c>ix_chat_conversations_owner_recency</c>, stable however many rows arrive while a client pages.
    /// </summary>
    public async Task<(List<Conversation> Items, KeysetCursor? Next)> ListAsync(
        ConversationStatus status, int limit, KeysetCursor? after, CancellationToken cancellationToken)
    {
        var query = db.Conversations.AsNoTracking().Where(c => c.Status == status);
        if (after is { } cursor)
        {
            var at = cursor.At;
            var id = cursor.Id;
            // A row-value comparison, (last_activity_at, id) < (@at, @id): PostgreSQL uses it as the index condition.
            query = query.Where(c => EF.Functions.LessThan(ValueTuple.Create(c.LastActivityAt, c.Id), ValueTuple.Create(at, id)));
        }
        var rows = await query
            .OrderByDescending(c => c.LastActivityAt).ThenByDescending(c => c.Id)
            .Take(limit + 1)
            .ToListAsync(cancellationToken);

        if (rows.Count <= limit)
        {
            return (rows, null);
        }
        rows.RemoveAt(limit);
        var last = rows[^1];
        return (rows, new KeysetCursor(last.LastActivityAt, last.Id));
    }

    /// <summary>
    /// Applies a partial update. With <paramref name="expectedVersion"/> (from <c>If-Match</c>) the write is
    /// conditional on the row version (xmin) in the UPDATE itself, so a concurrent change yields
    /// <see cref="UpdateOutcome.PreconditionFailed"/>; without it the latest row wins (re-read and retried).
    /// </summary>
    public async Task<(UpdateOutcome Outcome, Conversation? Conversation)> UpdateAsync(
        Guid id, UpdateConversationRequest request, uint? expectedVersion, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var conversation = await db.Conversations.FirstOrDefaultAsync(c => c.Id == id, cancellationToken);
            if (conversation is null)
            {
                return (UpdateOutcome.NotFound, null);
            }
            if (expectedVersion is { } expected)
            {
                if (conversation.Version != expected)
                {
                    return (UpdateOutcome.PreconditionFailed, conversation);
                }
                db.Entry(conversation).Property(c => c.Version).OriginalValue = expected;
            }

            if (request.Title is not null) conversation.Title = Blank(request.Title);
            if (request.Model is not null) conversation.Model = Blank(request.Model);
            if (request.Provider is not null) conversation.Provider = Blank(request.Provider);
            if (request.SystemPrompt is not null) conversation.SystemPrompt = Blank(request.SystemPrompt);

            try
            {
                await db.SaveChangesAsync(cancellationToken);
                return (UpdateOutcome.Updated, conversation);
            }
            catch (DbUpdateConcurrencyException)
            {
                db.ChangeTracker.Clear();
                if (expectedVersion is not null)
                {
                    return (UpdateOutcome.PreconditionFailed, null);
                }
                if (attempt + 1 >= MaxConcurrencyRetries)
                {
                    throw;
                }
            }
        }
    }

    /// <summary>Archives or unarchives; idempotent. Null when the conversation is not the caller's.</summary>
    public async Task<Conversation?> SetStatusAsync(Guid id, ConversationStatus status, CancellationToken cancellationToken)
    {
        var changed = await db.Conversations
            .Where(c => c.Id == id)
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.Status, status), cancellationToken);
        return changed == 0 ? null : await GetAsync(id, cancellationToken);
    }

    /// <summary>Soft delete: the row stays restorable for the retention period. False when not the caller's.</summary>
    public async Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var changed = await db.Conversations
            .Where(c => c.Id == id)
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.DeletedAt, now), cancellationToken);
        return changed > 0;
    }

    /// <summary>
    /// Undoes a soft delete made within the retention period (idempotent for a conversation that is not deleted).
    /// Null when the conversation is not the caller's or is past retention.
    /// </summary>
    public async Task<Conversation?> RestoreAsync(Guid id, CancellationToken cancellationToken)
    {
        var cutoff = time.GetUtcNow() - options.Value.Retention;
        await db.Conversations
            .IgnoreQueryFilters([ChatDbContext.SoftDeleteFilter])
            .Where(c => c.Id == id && c.DeletedAt != null && c.DeletedAt >= cutoff)
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.DeletedAt, (DateTimeOffset?)null), cancellationToken);
        return await GetAsync(id, cancellationToken);
    }

    private static string? Blank(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
