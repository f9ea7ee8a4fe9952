using Chat.Api.Infrastructure;
using Chat.Data;
using Chat.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Chat.Api.Services;

public enum AppendOutcome
{
    /// <summary>The message was stored now.</summary>
    Created,

    /// <summary>A message with the same client message id already existed; it is returned and nothing was written.</summary>
    Existing,
    NotFound,
    Archived,
}

/// <summary>
/// The result of <see cref="MessageService.AppendUserMessageAsync"/>: the stored (or earlier) message and the
/// conversation as read before the insert (its model, provider and system prompt are what a generation needs).
/// </summary>
public sealed record AppendResult(AppendOutcome Outcome, Message? Message, Conversation? Conversation);

/// <summary>
/// Reads and writes a conversation's messages for the caller in <see cref="IDataScope"/>. The generation code calls
/// <see cref="AppendUserMessageAsync"/> and then adds the assistant's reply; the endpoint only maps results.
/// </summary>
public sealed class MessageService(ChatDbContext db, IDataScope scope)
{
    /// <summary>
    /// Stores the user's message once per <paramref name="clientMessageId"/>. Concurrent identical posts race on the
    /// unique index <c>ux_chat_messages_client_message_id</c> through <c>INSERT … ON CONFLICT DO NOTHING</c>: exactly
    /// one inserts, every other waits for it to commit and then reads the row it made.
    /// </summary>
    public async Task<AppendResult> AppendUserMessageAsync(
        Guid conversationId, string content, string? clientMessageId, CancellationToken cancellationToken)
    {
        var conversation = await db.Conversations.AsNoTracking().FirstOrDefaultAsync(c => c.Id == conversationId, cancellationToken);
        if (conversation is null)
        {
            return new AppendResult(AppendOutcome.NotFound, null, null);
        }

        if (clientMessageId is not null && await FindByClientIdAsync(conversationId, clientMessageId, cancellationToken) is { } earlier)
        {
            return new AppendResult(AppendOutcome.Existing, earlier, conversation);
        }
        if (conversation.Status == ConversationStatus.Archived)
        {
            return new AppendResult(AppendOutcome.Archived, null, conversation);
        }

        var id = Guid.CreateVersion7();
        int inserted;
        try
        {
            inserted = await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO chat_messages (id, conversation_id, tenant_id, user_id, role, content, status, client_message_id)
                VALUES ({id}, {conversationId}, {scope.TenantId}, {scope.UserId}, 'user', {content}, 'completed', {clientMessageId})
                ON CONFLICT (conversation_id, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING
                """, cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            // Purged between the check and the insert.
            return new AppendResult(AppendOutcome.NotFound, null, null);
        }

        var message = inserted == 1
            ? await db.Messages.AsNoTracking().FirstAsync(m => m.Id == id, cancellationToken)
            : await FindByClientIdAsync(conversationId, clientMessageId!, cancellationToken)
              ?? throw new InvalidOperationException("The conflicting message is not visible.");
        return new AppendResult(inserted == 1 ? AppendOutcome.Created : AppendOutcome.Existing, message, conversation);
    }

    public Task<Message?> GetAsync(Guid conversationId, Guid messageId, CancellationToken cancellationToken) =>
        db.Messages.AsNoTracking().FirstOrDefaultAsync(m => m.ConversationId == conversationId && m.Id == messageId, cancellationToken);

    /// <summary>
    /// A keyset page in conversation order (created_at, id), read forwards from <paramref name="after"/> (or the
    /// start) or backwards from <paramref name="before"/> (<see cref="KeysetCursor.End"/>: from the end, the newest
    /// page); either way one range scan of
    /// <c>ix_chat_messages_conversation_order</c>, and the items come back oldest first. The conversation must be
    /// visible too (owner and soft-delete filters, in the same statement as an EXISTS): a page with items proves it,
    /// so only an empty page needs <see cref="ConversationService.GetAsync"/> to tell "empty" from "not found".
    /// </summary>
    public async Task<(List<Message> Items, KeysetCursor? Next)> ListAsync(
        Guid conversationId, int limit, KeysetCursor? before, KeysetCursor? after, CancellationToken cancellationToken)
    {
        var query = db.Messages.AsNoTracking()
            .Where(m => m.ConversationId == conversationId && db.Conversations.Any(c => c.Id == conversationId));
        List<Message> rows;
        if (before is { } b)
        {
            var (at, id) = (b.At, b.Id);
            if (b != KeysetCursor.End)
            {
                query = query.Where(m => EF.Functions.LessThan(ValueTuple.Create(m.CreatedAt, m.Id), ValueTuple.Create(at, id)));
            }
            rows = await query
                .OrderByDescending(m => m.CreatedAt).ThenByDescending(m => m.Id)
                .Take(limit + 1)
                .ToListAsync(cancellationToken);
        }
        else
        {
            if (after is { } a)
            {
                var (at, id) = (a.At, a.Id);
                query = query.Where(m => EF.Functions.GreaterThan(ValueTuple.Create(m.CreatedAt, m.Id), ValueTuple.Create(at, id)));
            }
            rows = await query
                .OrderBy(m => m.CreatedAt).ThenBy(m => m.Id)
                .Take(limit + 1)
                .ToListAsync(cancellationToken);
        }

        KeysetCursor? next = null;
        if (rows.Count > limit)
        {
            rows.RemoveAt(limit);
            next = new KeysetCursor(rows[^1].CreatedAt, rows[^1].Id);
        }
        if (before is not null)
        {
            rows.Reverse();
        }
        return (rows, next);
    }

    private Task<Message?> FindByClientIdAsync(Guid conversationId, string clientMessageId, CancellationToken cancellationToken) =>
        db.Messages.AsNoTracking()
            .FirstOrDefaultAsync(m => m.ConversationId == conversationId && m.ClientMessageId == clientMessageId, cancellationToken);
}
