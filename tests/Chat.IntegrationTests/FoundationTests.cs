using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Chat.IntegrationTests;

[Collection(ChatAppCollection.Name)]
public sealed class FoundationTests(ChatAppFixture fixture)
{
    [Fact]
    public async Task EveryResourceBecomesHealthyAndMigrationsFinishWithExitCodeZero()
    {
        using var cts = new CancellationTokenSource(ChatAppFixture.StepTimeout);
        var migrations = await fixture.Notifications.WaitForResourceAsync(
            "migrations", e => KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), cts.Token);
        Assert.Equal(KnownResourceStates.Finished, migrations.Snapshot.State?.Text);
        Assert.Equal(0, migrations.Snapshot.ExitCode);

        foreach (var name in new[] { "postgres", "cache", "chat-api", "gateway" })
        {
            var e = await fixture.Notifications.WaitForResourceHealthyAsync(name, cts.Token);
            Assert.Equal(KnownResourceStates.Running, e.Snapshot.State?.Text);
        }
        await fixture.Notifications.WaitForResourceAsync("chatdb", KnownResourceStates.Running, cts.Token);
    }

    [Fact]
    public async Task GatewayApiHealthAnswersSeedShapedJson()
    {
        using var response = await fixture.Gateway.GetAsync("/api/health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);

        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = body.RootElement;
        Assert.Equal("healthy", root.GetProperty("status").GetString());
        Assert.Equal("chat-api", root.GetProperty("service").GetString());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("version").GetString()));
        Assert.Equal("connected", root.GetProperty("checks").GetProperty("database").GetString());
        Assert.Equal("connected", root.GetProperty("checks").GetProperty("redis").GetString());
    }

    [Fact]
    public async Task GatewayRoutesToTheStreamingService()
    {
        var health = await fixture.Gateway.GetFromJsonAsync<JsonElement>("/ws/health");
        Assert.Equal("chat-streaming", health.GetProperty("service").GetString());
        Assert.Equal("connected", health.GetProperty("checks").GetProperty("redis").GetString());

        // A plain GET on /ws with a token reaches the streaming service, which asks for an upgrade.
        var token = TestTokens.Create("foundation-user", "foundation-tenant");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/ws");
        request.Headers.Authorization = new("Bearer", token);
        using var plain = await fixture.Gateway.SendAsync(request);
        Assert.Equal(HttpStatusCode.UpgradeRequired, plain.StatusCode);

        // And a WebSocket goes through the gateway (browsers pass the token in the query string).
        using var socket = new ClientWebSocket();
        using var cts = new CancellationTokenSource(ChatAppFixture.StepTimeout);
        var wsUri = new UriBuilder(fixture.GatewayUri) { Scheme = "ws", Path = "/ws", Query = $"access_token={token}" }.Uri;
        await socket.ConnectAsync(wsUri, cts.Token);
        var buffer = new byte[4096];
        var result = await socket.ReceiveAsync(buffer, cts.Token);
        Assert.Equal(WebSocketMessageType.Text, result.MessageType);
        Assert.Contains("chat-streaming", Encoding.UTF8.GetString(buffer, 0, result.Count), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SchemaHasTablesIndexesForeignKeysAndTriggers()
    {
        await using var connection = await OpenAsync();

        var columns = await ListAsync(connection, """
            SELECT table_name || '.' || column_name FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name IN ('chat_conversations', 'chat_messages')
            """);
        foreach (var column in new[]
        {
            "chat_conversations.id", "chat_conversations.tenant_id", "chat_conversations.user_id", "chat_conversations.title",
            "chat_conversations.model", "chat_conversations.provider", "chat_conversations.system_prompt",
            "chat_conversations.status", "chat_conversations.message_count", "chat_conversations.last_message_at",
            "chat_conversations.created_at", "chat_conversations.updated_at", "chat_conversations.deleted_at",
            "chat_messages.id", "chat_messages.conversation_id", "chat_messages.tenant_id", "chat_messages.role",
            "chat_messages.content", "chat_messages.status", "chat_messages.model", "chat_messages.provider",
            "chat_messages.prompt_tokens", "chat_messages.completion_tokens", "chat_messages.finish_reason",
            "chat_messages.client_message_id", "chat_messages.created_at",
        })
        {
            Assert.Contains(column, columns);
        }

        var indexes = await ListAsync(connection, "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'");
        Assert.Contains(indexes, i => i.Contains("ix_chat_conversations_owner_recency", StringComparison.Ordinal)
            && i.Contains("(tenant_id, user_id, status, last_activity_at DESC, id DESC)", StringComparison.Ordinal)
            && i.Contains("WHERE (deleted_at IS NULL)", StringComparison.Ordinal));
        Assert.Contains(indexes, i => i.Contains("ix_chat_messages_conversation_order", StringComparison.Ordinal)
            && i.Contains("(conversation_id, created_at, id)", StringComparison.Ordinal));
        Assert.Contains(indexes, i => i.Contains("UNIQUE INDEX ux_chat_messages_client_message_id", StringComparison.Ordinal));

        var foreignKeys = await ListAsync(connection, """
            SELECT conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f'
            """);
        Assert.Contains("fk_chat_messages_conversation:FOREIGN KEY (conversation_id) REFERENCES chat_conversations(id) ON DELETE CASCADE", foreignKeys);

        var triggers = await ListAsync(connection, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal");
        Assert.Contains("trg_chat_conversations_updated_at", triggers);
        Assert.Contains("trg_chat_messages_updated_at", triggers);
        Assert.Contains("trg_chat_messages_maintain_conversation", triggers);
    }

    [Fact]
    public async Task ConcurrentMessageInsertsLeaveMessageCountExact()
    {
        const int writers = 16;
        const int perWriter = 25;
        var conversationId = await InsertConversationAsync();

        await Task.WhenAll(Enumerable.Range(0, writers).Select(async w =>
        {
            await using var connection = await OpenAsync();
            for (var i = 0; i < perWriter; i++)
            {
                await using var insert = new NpgsqlCommand("""
                    INSERT INTO chat_messages (id, conversation_id, tenant_id, user_id, role, content)
                    VALUES (@id, @conversation, 'test-tenant', 'test-user', 'user', @content)
                    """, connection);
                insert.Parameters.AddWithValue("id", Guid.CreateVersion7());
                insert.Parameters.AddWithValue("conversation", conversationId);
                insert.Parameters.AddWithValue("content", $"writer {w} message {i}");
                await insert.ExecuteNonQueryAsync();
            }
        }));

        await using var db = await OpenAsync();
        await using var check = new NpgsqlCommand("""
            SELECT c.message_count, c.last_message_at = (SELECT max(created_at) FROM chat_messages m WHERE m.conversation_id = c.id),
                   (SELECT count(*) FROM chat_messages m WHERE m.conversation_id = c.id)
            FROM chat_conversations c WHERE c.id = @id
            """, db);
        check.Parameters.AddWithValue("id", conversationId);
        await using var reader = await check.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(writers * perWriter, reader.GetInt32(0));
        Assert.True(reader.GetBoolean(1), "last_message_at is the newest message's created_at");
        Assert.Equal(writers * perWriter, reader.GetInt64(2));
    }

    [Fact]
    public async Task TriggersMaintainUpdatedAtAndDecrementCountOnDelete()
    {
        var conversationId = await InsertConversationAsync();
        await using var connection = await OpenAsync();
        var messageId = Guid.CreateVersion7();
        await ExecuteAsync(connection, $"""
            INSERT INTO chat_messages (id, conversation_id, tenant_id, user_id, role, content)
            VALUES ('{messageId}', '{conversationId}', 'test-tenant', 'test-user', 'user', 'hi')
            """);
        var before = await ScalarAsync<DateTime>(connection, $"SELECT updated_at FROM chat_conversations WHERE id = '{conversationId}'");

        await ExecuteAsync(connection, $"UPDATE chat_conversations SET title = 'renamed' WHERE id = '{conversationId}'");
        var after = await ScalarAsync<DateTime>(connection, $"SELECT updated_at FROM chat_conversations WHERE id = '{conversationId}'");
        Assert.True(after > before, "updated_at moves on update");

        await ExecuteAsync(connection, $"DELETE FROM chat_messages WHERE id = '{messageId}'");
        Assert.Equal(0, await ScalarAsync<int>(connection, $"SELECT message_count FROM chat_conversations WHERE id = '{conversationId}'"));
    }

    [Fact]
    public async Task ForeignKeyRefusesAMessageWithoutItsConversation()
    {
        await using var connection = await OpenAsync();
        var error = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(connection, $"""
            INSERT INTO chat_messages (id, conversation_id, tenant_id, user_id, role, content)
            VALUES ('{Guid.CreateVersion7()}', '{Guid.CreateVersion7()}', 't', 'u', 'user', 'orphan')
            """));
        Assert.Equal(PostgresErrorCodes.ForeignKeyViolation, error.SqlState);
    }

    [Fact]
    public async Task DevelopmentSeedIsPresent()
    {
        await using var connection = await OpenAsync();
        var seeded = await ScalarAsync<long>(connection, "SELECT count(*) FROM chat_conversations WHERE tenant_id = 'dev-tenant' AND user_id = 'dev-user'");
        Assert.True(seeded >= 2);
    }

    private async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(await fixture.ConnectionStringAsync("chatdb"));
        await connection.OpenAsync();
        return connection;
    }

    private async Task<Guid> InsertConversationAsync()
    {
        var id = Guid.CreateVersion7();
        await using var connection = await OpenAsync();
        await ExecuteAsync(connection, $"""
            INSERT INTO chat_conversations (id, tenant_id, user_id, title) VALUES ('{id}', 'test-tenant', 'test-user', 'concurrency')
            """);
        return id;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<List<string>> ListAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<string>();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }
        return values;
    }
}
