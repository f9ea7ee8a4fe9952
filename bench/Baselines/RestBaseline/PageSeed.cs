namespace Chat.Bench.Baselines.RestBaseline;

/// <summary>
/// The SQL that creates and fills <c>bench_messages</c> (idempotent; run by <see cref="ItemSeeder"/>): the columns a Chat
/// history page reads, with <c>chat_messages</c>' types and its conversation-order index, and
/// <see cref="RestBaselineOptions.PageConversations"/> conversations of 20 user messages and 20 replies each, the
/// texts as long as the bench's history conversation in Chat.
/// </summary>
internal static class PageSeed
{
    public static string Sql(int conversations) => $"""
            CREATE TABLE IF NOT EXISTS bench_messages (
                id uuid PRIMARY KEY, conversation_id uuid NOT NULL, role varchar(16) NOT NULL, content text NOT NULL,
                status varchar(16) NOT NULL, client_message_id varchar(128), model varchar(100), provider varchar(100),
                parent_message_id uuid, generation_id uuid, prompt_tokens int, completion_tokens int, total_tokens int,
                finish_reason varchar(32), created_at timestamptz NOT NULL);
            CREATE INDEX IF NOT EXISTS ix_bench_messages_conversation_order ON bench_messages (conversation_id, created_at, id);
            INSERT INTO bench_messages
            SELECT {PageApi.MessageSql("c", "i", "0")}, {PageApi.ConversationSql("c")}, 'user', 'history message ' || i, 'completed',
                   gen_random_uuid()::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, now() + make_interval(secs => i * 2)
            FROM generate_series(1, {conversations}) AS c, generate_series(0, 19) AS i
            UNION ALL
            SELECT {PageApi.MessageSql("c", "i", "1")}, {PageApi.ConversationSql("c")}, 'assistant',
                   '[chat-dev: built-in development model, not a real LLM] You said: "history message ' || i
                     || '". This deterministic reply comes from the local provider; configure a provider key to talk to a real model.',
                   'completed', NULL, 'chat-dev', 'local', {PageApi.MessageSql("c", "i", "0")}, gen_random_uuid(), 12, 31, 43, 'stop',
                   now() + make_interval(secs => i * 2 + 1)
            FROM generate_series(1, {conversations}) AS c, generate_series(0, 19) AS i
            ON CONFLICT (id) DO NOTHING;
            ANALYZE bench_messages;
            """;
}
