using Chat.Data;
using Microsoft.EntityFrameworkCore;

namespace Chat.MigrationService;

/// <summary>
/// Sample conversations for the development user (<c>dev-tenant</c> / <c>dev-user</c>, the defaults of the
/// dev-token command). Fixed ids and <c>ON CONFLICT DO NOTHING</c> make it idempotent; run in Development only.
/// </summary>
internal static class DevelopmentSeed
{
    public const string TenantId = "dev-tenant";
    public const string UserId = "dev-user";

    private static readonly Guid s_welcome = Guid.Parse("0190a000-0000-7000-8000-000000000001");
    private static readonly Guid s_archived = Guid.Parse("0190a000-0000-7000-8000-000000000002");

    public static async Task<int> ApplyAsync(ChatDbContext db, CancellationToken cancellationToken)
    {
        var inserted = 0;
        inserted += await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO chat_conversations (id, tenant_id, user_id, title, model, provider, system_prompt, status, created_at)
            VALUES ({s_welcome}, {TenantId}, {UserId}, 'Welcome to Chat', 'chat-dev', 'local',
                    'You are a helpful assistant.', 'active', now() - interval '1 day'),
                   ({s_archived}, {TenantId}, {UserId}, 'An archived conversation', 'chat-dev', 'local',
                    NULL, 'archived', now() - interval '2 days')
            ON CONFLICT (id) DO NOTHING
            """, cancellationToken);

        inserted += await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO chat_messages (id, conversation_id, tenant_id, user_id, role, content, status, model, provider, created_at)
            VALUES ('0190a000-0000-7000-8000-000000000101', {s_welcome}, {TenantId}, {UserId}, 'user',
                    'What is Chat?', 'completed', NULL, NULL, now() - interval '1 day'),
                   ('0190a000-0000-7000-8000-000000000102', {s_welcome}, {TenantId}, {UserId}, 'assistant',
                    'Chat is a distributed backend for LLM conversations: a REST API, WebSocket streaming through Redis, and many model providers behind one abstraction.',
                    'completed', 'chat-dev', 'local', now() - interval '1 day' + interval '2 seconds'),
                   ('0190a000-0000-7000-8000-000000000103', {s_archived}, {TenantId}, {UserId}, 'user',
                    'An old question.', 'completed', NULL, NULL, now() - interval '2 days')
            ON CONFLICT (id) DO NOTHING
            """, cancellationToken);
        return inserted;
    }
}
