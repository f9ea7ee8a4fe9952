using System.Data.Common;
using System.Text;
using Chat.Data;
using Chat.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;
using Xunit.Abstractions;

namespace Chat.IntegrationTests;

/// <summary>
/// Runs the API's list and history queries — the exact SQL and parameters EF Core sends, captured by an interceptor —
/// under <c>EXPLAIN (ANALYZE, BUFFERS)</c> on a table with many tenants, and asserts that both are index range scans.
/// The plans are printed (and written to explain-plans.txt next to the test assembly) for docs/API.md.
/// </summary>
[Collection(ChatAppCollection.Name)]
public sealed class ApiExplainTests(ChatAppFixture fixture, ITestOutputHelper output)
{
    private const string Tenant = "explain-tenant";
    private const string User = "explain-user";

    [Fact]
    public async Task ListAndHistoryQueriesAreIndexScans()
    {
        var conversationId = await SeedAsync();
        var explain = new ExplainInterceptor();
        var options = new DbContextOptionsBuilder<ChatDbContext>()
            .UseNpgsql(await fixture.ConnectionStringAsync("chatdb"))
            .AddInterceptors(explain)
            .Options;
        await using var db = ChatDbContext.Create(options, new DataScope(Tenant, User));

        // The list query as ConversationService.ListAsync builds it: a second page (with a cursor).
        var first = await db.Conversations.AsNoTracking().Where(c => c.Status == ConversationStatus.Active)
            .OrderByDescending(c => c.LastActivityAt).ThenByDescending(c => c.Id).Take(21).ToListAsync();
        var (at, id) = (first[^2].LastActivityAt, first[^2].Id);
        explain.Capture = true;
        await db.Conversations.AsNoTracking().Where(c => c.Status == ConversationStatus.Active)
            .Where(c => EF.Functions.LessThan(ValueTuple.Create(c.LastActivityAt, c.Id), ValueTuple.Create(at, id)))
            .OrderByDescending(c => c.LastActivityAt).ThenByDescending(c => c.Id).Take(21).ToListAsync();
        var listPlan = explain.Plans[^1];

        // The history page as MessageService.ListAsync reads it (MessagePageSql, through Npgsql): after a cursor, and
        // the newest page (latest=true), the same index read backwards.
        var messages = await db.Messages.AsNoTracking().Where(m => m.ConversationId == conversationId)
            .OrderBy(m => m.CreatedAt).ThenBy(m => m.Id).Take(51).ToListAsync();
        var (mAt, mId) = (messages[^2].CreatedAt, messages[^2].Id);
        await using var connection = new NpgsqlConnection(await fixture.ConnectionStringAsync("chatdb"));
        await connection.OpenAsync();
        var historyPlan = await explain.ExplainAsync(PageCommand(connection, MessagePageSql.After, conversationId, (mAt, mId)));
        var latestPlan = await explain.ExplainAsync(PageCommand(connection, MessagePageSql.Last, conversationId, null));

        var report = new StringBuilder()
            .AppendLine("== Conversation list (second page) ==").AppendLine(explain.Sql[^4]).AppendLine(listPlan)
            .AppendLine("== Message history (after a cursor) ==").AppendLine(explain.Sql[^2]).AppendLine(historyPlan)
            .AppendLine("== Message history (latest page) ==").AppendLine(explain.Sql[^1]).AppendLine(latestPlan)
            .ToString();
        output.WriteLine(report);
        await File.WriteAllTextAsync(Path.Combine(AppContext.BaseDirectory, "explain-plans.txt"), report);

        Assert.Contains("Index Scan using ix_chat_conversations_owner_recency", listPlan, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan", listPlan, StringComparison.Ordinal);
        Assert.DoesNotContain("Sort", listPlan.Replace("Sort Key", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("Index Scan using ix_chat_messages_conversation_order", historyPlan, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan", historyPlan, StringComparison.Ordinal);
        Assert.Contains("Index Scan Backward using ix_chat_messages_conversation_order", latestPlan, StringComparison.Ordinal);
    }

    /// <summary>20,000 conversations over 200 owners, 300 of them ours; 5,000 messages in one of ours, 20,000 elsewhere.</summary>
    private async Task<Guid> SeedAsync()
    {
        await using var connection = await ApiTestClient.OpenDatabaseAsync(fixture);
        var conversationId = Guid.CreateVersion7();
        await using (var seed = new NpgsqlCommand("""
            INSERT INTO chat_conversations (id, tenant_id, user_id, title, created_at)
            SELECT gen_random_uuid(), 'noise-tenant-' || (i % 200), 'noise-user', 'noise', now() - (i || ' seconds')::interval
            FROM generate_series(1, 20000) i;
            INSERT INTO chat_conversations (id, tenant_id, user_id, title, created_at)
            SELECT gen_random_uuid(), @tenant, @user, 'mine', now() - (i || ' minutes')::interval
            FROM generate_series(1, 300) i;
            INSERT INTO chat_conversations (id, tenant_id, user_id, title) VALUES (@conversation, @tenant, @user, 'history');
            INSERT INTO chat_messages (id, conversation_id, tenant_id, user_id, role, content, created_at)
            SELECT gen_random_uuid(), @conversation, @tenant, @user, 'user', 'message ' || i, now() - ((6000 - i) || ' seconds')::interval
            FROM generate_series(1, 5000) i;
            INSERT INTO chat_messages (id, conversation_id, tenant_id, user_id, role, content)
            SELECT gen_random_uuid(), c.id, c.tenant_id, c.user_id, 'user', 'noise'
            FROM (SELECT * FROM chat_conversations WHERE tenant_id LIKE 'noise-tenant-%' LIMIT 20000) c;
            ANALYZE chat_conversations;
            ANALYZE chat_messages;
            """, connection))
        {
            seed.CommandTimeout = 120;
            seed.Parameters.AddWithValue("tenant", Tenant);
            seed.Parameters.AddWithValue("user", User);
            seed.Parameters.AddWithValue("conversation", conversationId);
            await seed.ExecuteNonQueryAsync();
        }
        return conversationId;
    }

    private static NpgsqlCommand PageCommand(NpgsqlConnection connection, string sql, Guid conversationId, (DateTimeOffset At, Guid Id)? cursor)
    {
        var command = new NpgsqlCommand(sql, connection)
        {
            Parameters =
            {
                new() { Value = conversationId },
                new() { Value = false },
                new() { Value = Tenant },
                new() { Value = User },
                new() { Value = 51L },
            },
        };
        if (cursor is { } c)
        {
            command.Parameters.Add(new() { Value = c.At });
            command.Parameters.Add(new() { Value = c.Id });
        }
        return command;
    }

    /// <summary>Runs EXPLAIN on each query EF sends (same SQL, same typed parameters), then lets the query run.</summary>
    private sealed class ExplainInterceptor : DbCommandInterceptor
    {
        public bool Capture { get; set; }
        public List<string> Plans { get; } = [];
        public List<string> Sql { get; } = [];

        public override async ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            if (Capture)
            {
                await ExplainAsync((NpgsqlCommand)command, cancellationToken);
            }
            return result;
        }

        /// <summary>EXPLAINs <paramref name="npgsql"/> with its parameters, records plan and SQL, and returns the plan.</summary>
        public async Task<string> ExplainAsync(NpgsqlCommand npgsql, CancellationToken cancellationToken = default)
        {
            await using var explain = new NpgsqlCommand("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING ON) " + npgsql.CommandText, npgsql.Connection);
            foreach (NpgsqlParameter p in npgsql.Parameters)
            {
                explain.Parameters.Add(p.Clone());
            }
            var lines = new StringBuilder();
            await using (var reader = await explain.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    lines.AppendLine(reader.GetString(0));
                }
            }
            Plans.Add(lines.ToString());
            var text = new StringBuilder();
            foreach (NpgsqlParameter p in npgsql.Parameters)
            {
                text.AppendLine($"-- {p.ParameterName} = {p.Value} ({p.NpgsqlDbType})");
            }
            Sql.Add(text.Append(npgsql.CommandText).ToString());
            return lines.ToString();
        }
    }
}
