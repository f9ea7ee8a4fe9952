namespace Chat.Data;

/// <summary>
/// The history page's four statements (first page, after a cursor, newest page, before a cursor), for chat-api to run
/// through Npgsql without EF Core's buffered reader (<c>MessageService</c> says why). They write out the owner and
/// soft-delete conditions that <see cref="ChatDbContext"/>'s query filters state for messages and conversations, so
/// they live here beside them. Parameters: $1 conversation id (uuid), $2 unrestricted scope (bool), $3 tenant id,
/// $4 user id (text), $5 rows to read (bigint), and for a cursor $6 created_at (timestamptz), $7 id (uuid).
/// Columns: id, conversation_id, role, content, status, client_message_id, model, provider, parent_message_id,
/// generation_id, prompt_tokens, completion_tokens, total_tokens, finish_reason, created_at. Each is one range scan
/// of <c>ix_chat_messages_conversation_order</c> (ApiExplainTests).
/// </summary>
public static class MessagePageSql
{
    private const string Select = """
        SELECT m.id, m.conversation_id, m.role, m.content, m.status, m.client_message_id, m.model, m.provider,
               m.parent_message_id, m.generation_id, m.prompt_tokens, m.completion_tokens, m.total_tokens, m.finish_reason,
               m.created_at
        FROM chat_messages m
        WHERE m.conversation_id = $1 AND ($2 OR (m.tenant_id = $3 AND m.user_id = $4))
          AND EXISTS (SELECT 1 FROM chat_conversations c
                      WHERE c.id = $1 AND c.deleted_at IS NULL AND ($2 OR (c.tenant_id = $3 AND c.user_id = $4)))
        """;

    /// <summary>The oldest messages.</summary>
    public const string First = Select + " ORDER BY m.created_at, m.id LIMIT $5";

    /// <summary>The messages after (created_at, id) = ($6, $7), oldest first.</summary>
    public const string After = Select + " AND (m.created_at, m.id) > ($6, $7) ORDER BY m.created_at, m.id LIMIT $5";

    /// <summary>The newest messages, newest first.</summary>
    public const string Last = Select + " ORDER BY m.created_at DESC, m.id DESC LIMIT $5";

    /// <summary>The messages before (created_at, id) = ($6, $7), newest first.</summary>
    public const string Before = Select + " AND (m.created_at, m.id) < ($6, $7) ORDER BY m.created_at DESC, m.id DESC LIMIT $5";
}
