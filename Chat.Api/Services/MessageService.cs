using Chat.Api.Contracts;
using Chat.Api.Infrastructure;
using Chat.Data;
using Chat.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Chat.Llm.Generation;
using Chat.Llm.Options;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Chat.Api.Services;

public enum AppendOutcome
{
    /// <summary>The message (and the reply's placeholder, if one was given) was stored now.</summary>
    Created,

    /// <summary>A message with the same client message id already existed; it is returned and nothing was written.</summary>
    Existing,
    NotFound,
}

/// <summary>
/// The result of <see cref="MessageService.AppendTurnAsync"/>: the stored (or earlier) user message and, when a reply
/// was asked for, the assistant message stored with it (for <see cref="AppendOutcome.Existing"/>: the earlier reply, if any).
/// </summary>
public sealed record AppendResult(AppendOutcome Outcome, Message? Message, Message? Assistant);

/// <summary>What a reply's assistant message starts with (status <c>streaming</c>, empty text), stored with its user message.</summary>
public sealed record ReplyPlaceholder(Guid Id, Guid GenerationId, string Model, string Provider, Guid[] ContextMessageIds, int ContextTokens);

/// <summary>
/// Reads and writes a conversation's messages for the caller in <see cref="IDataScope"/>. The reply code calls
/// <see cref="AppendTurnAsync"/>; the endpoint only maps results.
/// </summary>
public sealed class MessageService(ChatDbContext db, IDataScope scope, GenerationOwner owner, IOptions<LlmOptions> llm)
{
    /// <summary>
    /// Stores a user's message and, when <paramref name="reply"/> is given, the placeholder of its reply, in one
    /// statement (one round trip, one transaction): a data-modifying CTE inserts the user row and the assistant row
    /// only if the user row went in. The reply is stamped one microsecond after the message, so (created_at, id)
    /// always orders them. The message is stored once per <paramref name="clientMessageId"/>: concurrent identical
    /// posts race on the unique index <c>ux_chat_messages_client_message_id</c> through <c>ON CONFLICT DO NOTHING</c>;
    /// exactly one inserts, every other waits for it to commit and then reads the rows it made. With
    /// <paramref name="newConversation"/> (from <see cref="ConversationService.New"/>) the same statement inserts the
    /// conversation first, so a conversation started by a message costs no round trip of its own.
    /// </summary>
    public async Task<AppendResult> AppendTurnAsync(
        Guid conversationId, Guid messageId, string content, string? clientMessageId, ReplyPlaceholder? reply, CancellationToken cancellationToken,
        Conversation? newConversation = null)
    {
        var tenantId = scope.TenantId ?? throw new InvalidOperationException("No tenant in the data scope.");
        var userId = scope.UserId ?? throw new InvalidOperationException("No user in the data scope.");
        List<(Guid Id, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)> rows;
        try
        {
            rows = await InsertTurnAsync(conversationId, tenantId, userId, messageId, content, clientMessageId, reply, newConversation, cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            // Purged between the caller's check and the insert.
            return new AppendResult(AppendOutcome.NotFound, null, null);
        }

        if (rows.FindIndex(r => r.Id == messageId) is var u and >= 0)
        {
            var message = new Message
            {
                Id = messageId, ConversationId = conversationId, TenantId = tenantId, UserId = userId, Role = MessageRole.User,
                Content = content, Status = MessageStatus.Completed, ClientMessageId = clientMessageId,
                CreatedAt = rows[u].CreatedAt, UpdatedAt = rows[u].UpdatedAt,
            };
            var a = reply is null ? -1 : rows.FindIndex(r => r.Id == reply.Id);
            var assistant = a < 0 ? null : new Message
            {
                Id = reply!.Id, ConversationId = conversationId, TenantId = tenantId, UserId = userId, Role = MessageRole.Assistant,
                Content = "", Status = MessageStatus.Streaming, Model = reply.Model, Provider = reply.Provider,
                GenerationId = reply.GenerationId, ParentMessageId = messageId, ContextMessageIds = [.. reply.ContextMessageIds],
                ContextTokens = reply.ContextTokens, CreatedAt = rows[a].CreatedAt, UpdatedAt = rows[a].UpdatedAt,
            };
            return new AppendResult(AppendOutcome.Created, message, assistant);
        }

        var earlier = await FindByClientIdAsync(conversationId, clientMessageId!, cancellationToken)
            ?? throw new InvalidOperationException("The conflicting message is not visible.");
        return new AppendResult(AppendOutcome.Existing, earlier, await FindReplyAsync(conversationId, earlier.Id, cancellationToken));
    }

    /// <summary>
    /// The statement of <see cref="AppendTurnAsync"/>. It is sent through Npgsql on the context's connection rather than
    /// as an EF Core raw-SQL query: EF rebuilds a raw query's SQL on every execution when it has arguments, which costs
    /// 0.7 ms per message here against 0.7 ms for the statement itself (a Stopwatch trace of the send). The rows it
    /// writes are known to the caller, so only the database-made values come back. c inserts the conversation only
    /// when asked (its WHERE) and u reads nothing from it: the foreign key is checked at the end of the statement,
    /// after every insert in it. The reply's row is leased to this process (<see cref="GenerationOwner"/>) from the start. Without a reply, a selects no row (its values are then placeholders of the right types).
    /// </summary>
    private Task<List<(Guid Id, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)>> InsertTurnAsync(
        Guid conversationId, string tenantId, string userId, Guid messageId, string content, string? clientMessageId,
        ReplyPlaceholder? reply, Conversation? newConversation, CancellationToken cancellationToken)
    {
        const string Sql = """
            WITH c AS (
                INSERT INTO chat_conversations (id, tenant_id, user_id, title, model, provider, system_prompt)
                SELECT $1, $3, $4, $5, $6, $7, $8
                WHERE $9),
            u AS (
                INSERT INTO chat_messages (id, conversation_id, tenant_id, user_id, role, content, status, client_message_id)
                VALUES ($2, $1, $3, $4, 'user', $10, 'completed', $11)
                ON CONFLICT (conversation_id, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING
                RETURNING id, created_at, updated_at, tenant_id, user_id),
            a AS (
                INSERT INTO chat_messages (id, conversation_id, tenant_id, user_id, role, content, status, model, provider,
                                           generation_id, parent_message_id, context_message_ids, context_tokens, created_at,
                                           lease_owner, lease_expires_at)
                SELECT $12, $1, u.tenant_id, u.user_id, 'assistant', '', 'streaming', $13, $14, $15, u.id, $16, $17,
                       u.created_at + interval '1 microsecond', $19, clock_timestamp() + $20
                FROM u WHERE $18
                RETURNING id, created_at, updated_at)
            SELECT id, created_at, updated_at FROM u UNION ALL SELECT id, created_at, updated_at FROM a
            """;
        return ReadAsync(Sql, parameters =>
        {
            parameters.Add(new() { Value = conversationId });
            parameters.Add(new() { Value = messageId });
            parameters.Add(new() { Value = tenantId });
            parameters.Add(new() { Value = userId });
            parameters.Add(Text(newConversation?.Title));
            parameters.Add(Text(newConversation?.Model));
            parameters.Add(Text(newConversation?.Provider));
            parameters.Add(Text(newConversation?.SystemPrompt));
            parameters.Add(new() { Value = newConversation is not null });
            parameters.Add(new() { Value = content });
            parameters.Add(Text(clientMessageId));
            parameters.Add(new() { Value = reply?.Id ?? Guid.Empty });
            parameters.Add(new() { Value = reply?.Model ?? "" });
            parameters.Add(new() { Value = reply?.Provider ?? "" });
            parameters.Add(new() { Value = reply?.GenerationId ?? Guid.Empty });
            parameters.Add(new() { Value = reply?.ContextMessageIds ?? [] });
            parameters.Add(new() { Value = reply?.ContextTokens ?? 0 });
            parameters.Add(new() { Value = reply is not null });
            parameters.Add(new() { Value = owner.Id });
            parameters.Add(new() { Value = llm.Value.Generation.LeaseDuration });
        }, row => (row.GetGuid(0), row.GetFieldValue<DateTimeOffset>(1), row.GetFieldValue<DateTimeOffset>(2)), 2, cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="sql"/> (<see cref="NpgsqlRows"/>) as one operation of the context's retrying execution
    /// strategy (a transient failure reruns all of it). For the statements on every request's path (a message's insert,
    /// a history page), where EF Core's query pipeline costs as much as the statement.
    /// </summary>
    private Task<List<T>> ReadAsync<T>(
        string sql, Action<NpgsqlParameterCollection> bind, Func<NpgsqlDataReader, T> map, int expectedRows, CancellationToken cancellationToken) =>
        db.Database.CreateExecutionStrategy().ExecuteAsync(ct => db.Database.ReadRowsAsync(sql, bind, map, expectedRows, ct), cancellationToken);

    private static NpgsqlParameter Text(string? value) => new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text };

    /// <summary>The message stored earlier under <paramref name="clientMessageId"/>, if any.</summary>
    public Task<Message?> FindByClientIdAsync(Guid conversationId, string clientMessageId, CancellationToken cancellationToken) =>
        db.Messages.AsNoTracking()
            .FirstOrDefaultAsync(m => m.ConversationId == conversationId && m.ClientMessageId == clientMessageId, cancellationToken);

    /// <summary>The first assistant reply to <paramref name="userMessageId"/>, if one was started.</summary>
    public Task<Message?> FindReplyAsync(Guid conversationId, Guid userMessageId, CancellationToken cancellationToken) =>
        db.Messages.AsNoTracking()
            .Where(m => m.ConversationId == conversationId && m.ParentMessageId == userMessageId)
            .OrderBy(m => m.CreatedAt).FirstOrDefaultAsync(cancellationToken);

    public Task<Message?> GetAsync(Guid conversationId, Guid messageId, CancellationToken cancellationToken) =>
        db.Messages.AsNoTracking().FirstOrDefaultAsync(m => m.ConversationId == conversationId && m.Id == messageId, cancellationToken);

    /// <summary>
    /// A keyset page in conversation order (created_at, id), read forwards from <paramref name="after"/> (or the
    /// start) or backwards from <paramref name="before"/> (<see cref="KeysetCursor.End"/>: from the end, the newest
    /// page); either way one range scan of
    /// <c>ix_chat_messages_conversation_order</c>, and the items come back oldest first. The conversation must be
    /// visible too (owner and soft-delete filters, in the same statement as an EXISTS): a page with items proves it,
    /// so only an empty page needs <see cref="ConversationService.GetAsync"/> to tell "empty" from "not found".
    /// <para>
    /// A page is the hottest read there is, so it is read through Npgsql on the context's connection, straight into
    /// the response, as one operation of the retrying execution strategy (a transient failure retries the read).
    /// Through EF Core, even compiled, every value of every row is first copied into EF's buffered reader, which a
    /// query EF may retry on its own always gets: 11 % of chat-api's CPU per page (perf, 64 clients). The owner
    /// and soft-delete conditions are therefore written out in its SQL (<see cref="MessagePageSql"/>, beside the
    /// model's query filters); <c>ApiIsolationTests</c> hold them to it.
    /// </para>
    /// </summary>
    public async Task<(List<MessageResponse> Items, KeysetCursor? Next)> ListAsync(
        Guid conversationId, int limit, KeysetCursor? before, KeysetCursor? after, CancellationToken cancellationToken)
    {
        var take = limit + 1;
        var (shape, cursor) = (before, after) switch
        {
            ({ } b, _) when b == KeysetCursor.End => (PageShape.Last, (KeysetCursor?)null),
            ({ } b, _) => (PageShape.Before, b),
            (null, { } a) => (PageShape.After, a),
            _ => (PageShape.First, null),
        };
        var rows = await ReadAsync(s_pageSql[(int)shape], parameters =>
        {
            parameters.Add(new() { Value = conversationId });
            parameters.Add(new() { Value = scope.Unrestricted });
            parameters.Add(Text(scope.TenantId));
            parameters.Add(Text(scope.UserId));
            parameters.Add(new() { Value = (long)take });
            if (cursor is { } c)
            {
                parameters.Add(new() { Value = c.At });
                parameters.Add(new() { Value = c.Id });
            }
        }, PageRow, take, cancellationToken);
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

    private enum PageShape
    {
        First,
        After,
        Last,
        Before,
    }

    private static readonly string[] s_pageSql = [MessagePageSql.First, MessagePageSql.After, MessagePageSql.Last, MessagePageSql.Before];

    /// <summary>A row of <see cref="MessagePageSql"/>, in its column order.</summary>
    private static MessageResponse PageRow(NpgsqlDataReader row) => new(
        row.GetGuid(0), row.GetGuid(1), EnumText.Parse<MessageRole>(row.GetString(2)), row.GetString(3),
        EnumText.Parse<MessageStatus>(row.GetString(4)), NullableString(row, 5), NullableString(row, 6), NullableString(row, 7),
        row.IsDBNull(8) ? null : row.GetGuid(8), row.IsDBNull(9) ? null : row.GetGuid(9),
        row.IsDBNull(10) ? null : row.GetInt32(10), row.IsDBNull(11) ? null : row.GetInt32(11),
        row.IsDBNull(12) ? null : row.GetInt32(12), NullableString(row, 13), row.GetFieldValue<DateTimeOffset>(14));

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
