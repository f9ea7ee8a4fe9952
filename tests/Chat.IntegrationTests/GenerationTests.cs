using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using OpenAI;
using OpenAI.Chat;

namespace Chat.IntegrationTests;

/// <summary>Replies through the gateway with the built-in local model: JSON, SSE, resume, cancel, /chat, models, OpenAI SDK.</summary>
[Collection(ChatAppCollection.Name)]
public sealed class GenerationTests(ChatAppFixture fixture)
{
    private readonly ApiTestClient _client = new(fixture);

    [Fact]
    public async Task SyncPostReturnsBothMessagesWithUsageModelProviderAndTimings()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());

        using var response = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", new { content = "What is Chat?" });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await ApiTestClient.JsonAsync(response);
        var assistant = body.GetProperty("assistant");
        Assert.Equal("assistant", assistant.GetProperty("role").GetString());
        Assert.Equal("completed", assistant.GetProperty("status").GetString());
        Assert.StartsWith("[chat-dev", assistant.GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Contains("What is Chat?", assistant.GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Equal("chat-dev", assistant.GetProperty("model").GetString());
        Assert.Equal("local", assistant.GetProperty("provider").GetString());
        Assert.Equal("stop", assistant.GetProperty("finishReason").GetString());
        Assert.True(assistant.GetProperty("completionTokens").GetInt32() > 0);
        Assert.Equal(body.GetProperty("message").GetProperty("id").GetGuid(), assistant.GetProperty("parentMessageId").GetGuid());
        var generation = body.GetProperty("generation");
        Assert.Equal("completed", generation.GetProperty("status").GetString());
        Assert.True(generation.GetProperty("timeToFirstTokenMs").GetInt32() >= 0);
        Assert.True(generation.GetProperty("durationMs").GetInt32() >= generation.GetProperty("timeToFirstTokenMs").GetInt32());

        Assert.Equal(2, await ApiTestClient.ScalarAsync<int>(fixture, "SELECT message_count FROM chat_conversations WHERE id = @id", ("id", id)));
        // The context sent to the model is recorded: it included the user's message.
        Assert.True(await ApiTestClient.ScalarAsync<bool>(fixture,
            "SELECT context_tokens > 0 AND @user = ANY(context_message_ids) FROM chat_messages WHERE role = 'assistant' AND conversation_id = @id",
            ("id", id), ("user", body.GetProperty("message").GetProperty("id").GetGuid())));
    }

    [Fact]
    public async Task SsePostStreamsEveryFrameInOrderAndTheTextIsWhatWasPersisted()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var cts = new CancellationTokenSource(ChatAppFixture.StepTimeout);

        using var response = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", new { content = "stream please" },
            r => r.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream")), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync(cts.Token));
        var events = await sse.ReadToTerminalAsync(cts.Token);

        Assert.Equal("generation.started", events[0].Type);
        Assert.Equal("generation.completed", events[^1].Type);
        Assert.Equal(Enumerable.Range(0, events.Count).Select(i => (long)i), events.Select(e => e.Seq));
        Assert.Equal(events.Select(e => e.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture)), events.Select(e => e.Id));
        var text = string.Concat(events.Where(e => e.Type == "chunk").Select(e => e.Data.GetProperty("delta").GetString()));

        var messageId = events[0].Data.GetProperty("messageId").GetGuid();
        Assert.Equal(text, await ApiTestClient.ScalarAsync<string>(fixture, "SELECT content FROM chat_messages WHERE id = @id AND status = 'completed'", ("id", messageId)));
    }

    [Fact]
    public async Task SseResumeWithLastEventIdReturnsExactlyTheMissingFrames()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var cts = new CancellationTokenSource(ChatAppFixture.StepTimeout);
        using var accepted = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", new { content = "resume me" },
            r => r.Headers.Add("Prefer", "respond-async"));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var generationId = (await ApiTestClient.JsonAsync(accepted)).GetProperty("generation").GetProperty("id").GetGuid();

        // A client that saw frames 0..3, dropped, and reconnects.
        using var resumed = await _client.SendAsync(HttpMethod.Get, $"/api/v1/generations/{generationId}/events", configure: r => r.Headers.Add("Last-Event-ID", "3"),
            completion: HttpCompletionOption.ResponseHeadersRead);
        using var sse = new SseReader(await resumed.Content.ReadAsStreamAsync(cts.Token));
        var rest = await sse.ReadToTerminalAsync(cts.Token);

        Assert.Equal(4, rest[0].Seq);
        Assert.Equal(Enumerable.Range(4, rest.Count).Select(i => (long)i), rest.Select(e => e.Seq));
        Assert.Equal("generation.completed", rest[^1].Type);

        // And from the start, the same frames: nothing missing, nothing twice.
        using var all = await _client.SendAsync(HttpMethod.Get, $"/api/v1/generations/{generationId}/events", completion: HttpCompletionOption.ResponseHeadersRead);
        using var full = new SseReader(await all.Content.ReadAsStreamAsync(cts.Token));
        var everything = await full.ReadToTerminalAsync(cts.Token);
        Assert.Equal(everything.Skip(4).Select(e => e.Data.GetRawText()), rest.Select(e => e.Data.GetRawText()));
    }

    [Fact]
    public async Task CancelFromAnotherRequestEndsTheStreamCancelledAndKeepsThePartialText()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var cts = new CancellationTokenSource(ChatAppFixture.StepTimeout);
        // Connected before the send: on a loaded machine connecting takes long enough for the ~2 s reply to end first.
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(await fixture.ConnectionStringAsync("cache"));
        using var response = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", new { content = "a long answer please" },
            r => r.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream")), HttpCompletionOption.ResponseHeadersRead);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync(cts.Token));

        var started = (await sse.NextAsync(cts.Token))!;
        var generationId = started.Data.GetProperty("generationId").GetGuid();
        var received = new StringBuilder();
        SseReader.Event? e;
        while ((e = await sse.NextAsync(cts.Token)) is { Type: "chunk" } && e.Seq < 3)
        {
            received.Append(e.Data.GetProperty("delta").GetString());
        }
        received.Append(e!.Data.GetProperty("delta").GetString());

        // The request streams the reply its own process runs: it reads the frames there, not back through Redis, so
        // mid-stream nothing subscribes to the conversation's channel (no socket follows it either).
        var channel = Chat.Messaging.RedisKeys.ConversationChannel(id).ToString();
        var numsub = (StackExchange.Redis.RedisResult[])(await redis.GetServer(redis.GetEndPoints()[0]).ExecuteAsync("PUBSUB", "NUMSUB", channel))!;
        Assert.Equal(0L, (long)numsub[1]);

        using (var cancel = await _client.SendAsync(HttpMethod.Post, $"/api/v1/generations/{generationId}/cancel"))
        {
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        }
        var tail = await sse.ReadToTerminalAsync(cts.Token);
        Assert.Equal("generation.cancelled", tail[^1].Type);
        received.Append(string.Concat(tail.Where(t => t.Type == "chunk").Select(t => t.Data.GetProperty("delta").GetString())));

        var messageId = started.Data.GetProperty("messageId").GetGuid();
        Assert.Equal("cancelled", await ApiTestClient.ScalarAsync<string>(fixture, "SELECT status FROM chat_messages WHERE id = @id", ("id", messageId)));
        var stored = await ApiTestClient.ScalarAsync<string>(fixture, "SELECT content FROM chat_messages WHERE id = @id", ("id", messageId));
        Assert.Equal(received.ToString(), stored);
        Assert.False(string.IsNullOrEmpty(stored));

        // Cancelling again: it has finished.
        using var again = await _client.SendAsync(HttpMethod.Post, $"/api/v1/generations/{generationId}/cancel");
        await ApiTestClient.AssertProblemAsync(again, HttpStatusCode.Conflict, "generation_finished");
    }

    [Fact]
    public async Task ReplyCompletesWhenTheClientGoesAway()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var cts = new CancellationTokenSource(ChatAppFixture.StepTimeout);
        Guid generationId;
        using (var response = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", new { content = "leave early" },
            r => r.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream")), HttpCompletionOption.ResponseHeadersRead))
        {
            using var sse = new SseReader(await response.Content.ReadAsStreamAsync(cts.Token));
            generationId = (await sse.NextAsync(cts.Token))!.Data.GetProperty("generationId").GetGuid();
        }

        string status;
        do
        {
            await Task.Delay(200, cts.Token);
            using var get = await _client.SendAsync(HttpMethod.Get, $"/api/v1/generations/{generationId}");
            status = (await ApiTestClient.JsonAsync(get)).GetProperty("status").GetString()!;
        }
        while (status == "streaming");
        Assert.Equal("completed", status);
    }

    [Fact]
    public async Task ChatCreatesTheConversationWhenNoneIsGiven()
    {
        using var response = await _client.SendAsync(HttpMethod.Post, "/api/v1/chat", new { message = "Hello, one-call chat" });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await ApiTestClient.JsonAsync(response);
        var conversationId = body.GetProperty("message").GetProperty("conversationId").GetGuid();
        Assert.Equal("completed", body.GetProperty("assistant").GetProperty("status").GetString());

        using var conversation = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{conversationId}");
        var c = await ApiTestClient.JsonAsync(conversation);
        Assert.Equal("Hello, one-call chat", c.GetProperty("title").GetString());
        Assert.Equal(2, c.GetProperty("messageCount").GetInt32());

        // And continues it when given.
        using var second = await _client.SendAsync(HttpMethod.Post, "/api/v1/chat", new { message = "again", conversationId });
        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        Assert.Equal(conversationId, (await ApiTestClient.JsonAsync(second)).GetProperty("message").GetProperty("conversationId").GetGuid());
    }

    [Fact]
    public async Task ARefusedFirstMessageLeavesNoConversationBehind()
    {
        // The conversation a message starts is stored by the same statement as the message: no message, no conversation.
        using var response = await _client.SendAsync(HttpMethod.Post, "/api/v1/chat", new { message = "hi", model = "no-such-model" });
        await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.BadRequest, "model_not_found");

        using var openAi = await _client.SendAsync(HttpMethod.Post, "/v1/chat/completions",
            new { model = "no-such-model", messages = new[] { new { role = "user", content = "hi" } } });
        Assert.Equal(HttpStatusCode.NotFound, openAi.StatusCode);

        Assert.Equal(0L, await ApiTestClient.ScalarAsync<long>(fixture,
            "SELECT count(*) FROM chat_conversations WHERE tenant_id = @t AND user_id = @u", ("t", _client.TenantId), ("u", _client.UserId)));
    }

    [Fact]
    public async Task OpenAiHistoryIsStoredBeforeTheReplyInOrder()
    {
        using var response = await _client.SendAsync(HttpMethod.Post, "/v1/chat/completions", new
        {
            model = "chat-dev",
            messages = new object[]
            {
                new { role = "system", content = "Be brief." },
                new { role = "user", content = "first question" },
                new { role = "assistant", content = "first answer" },
                new { role = "user", content = "second question" },
            },
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var id = Guid.Parse(response.Headers.GetValues("X-Chat-Conversation-Id").Single());

        await using var db = await ApiTestClient.OpenDatabaseAsync(fixture);
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT role, content, status FROM chat_messages WHERE conversation_id = @id ORDER BY created_at, id", db);
        command.Parameters.AddWithValue("id", id);
        var rows = new List<(string Role, string Content, string Status)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
            }
        }
        Assert.Equal(["user", "assistant", "user", "assistant"], rows.Select(r => r.Role));
        Assert.Equal(["first question", "first answer", "second question"], rows.Take(3).Select(r => r.Content));
        Assert.Contains("second question", rows[3].Content, StringComparison.Ordinal);
        Assert.All(rows, r => Assert.Equal("completed", r.Status));
        Assert.Equal(4, await ApiTestClient.ScalarAsync<int>(fixture, "SELECT message_count FROM chat_conversations WHERE id = @id", ("id", id)));
        Assert.Equal("Be brief.", await ApiTestClient.ScalarAsync<string>(fixture, "SELECT system_prompt FROM chat_conversations WHERE id = @id", ("id", id)));
    }

    [Fact]
    public async Task ModelsListTheLocalDevelopmentModel()
    {
        using var response = await _client.SendAsync(HttpMethod.Get, "/api/v1/models");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var items = (await ApiTestClient.JsonAsync(response)).GetProperty("items").EnumerateArray().ToList();
        Assert.Contains(items, m => m.GetProperty("model").GetString() == "chat-dev" && m.GetProperty("provider").GetString() == "local");
    }

    [Fact]
    public async Task UnknownModelIsRefusedAndNothingIsStored()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var response = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", new { content = "hi", model = "no-such-model" });

        await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.BadRequest, "model_not_found");
        Assert.Equal(0L, await ApiTestClient.ScalarAsync<long>(fixture, "SELECT count(*) FROM chat_messages WHERE conversation_id = @id", ("id", id)));
    }

    [Fact]
    public async Task GatewayCapsConcurrentSendsPerUser()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var cts = new CancellationTokenSource(ChatAppFixture.StepTimeout);
        var responses = await Task.WhenAll(Enumerable.Range(0, ChatAppFixture.GenerationCap + 2).Select(i =>
            _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", new { content = $"burst {i}" },
                r => r.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream")), HttpCompletionOption.ResponseHeadersRead)));
        try
        {
            var limited = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
            Assert.True(limited.Count > 0, "statuses: " + string.Join(",", responses.Select(r => (int)r.StatusCode)));
            Assert.True(limited[0].Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
            Assert.True(responses.Count(r => r.IsSuccessStatusCode) <= ChatAppFixture.GenerationCap);
        }
        finally
        {
            foreach (var r in responses)
            {
                r.Dispose();
            }
        }
    }

    [Fact]
    public async Task OfficialOpenAiSdkCompletesAndStreamsThroughTheGateway()
    {
        var client = new OpenAIClient(new ApiKeyCredential(_client.Token),
            new OpenAIClientOptions { Endpoint = new Uri(fixture.GatewayUri, "/v1") }).GetChatClient("chat-dev");

        ChatCompletion completion = await client.CompleteChatAsync([new SystemChatMessage("Be brief."), new UserChatMessage("Ping?")]);
        Assert.StartsWith("[chat-dev", completion.Content[0].Text, StringComparison.Ordinal);
        Assert.Contains("Ping?", completion.Content[0].Text, StringComparison.Ordinal);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);

        var streamed = new StringBuilder();
        ChatTokenUsage? usage = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Stream?")],
            new ChatCompletionOptions()))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
            usage ??= update.Usage;
        }
        Assert.Contains("Stream?", streamed.ToString(), StringComparison.Ordinal);

        // Each call was persisted as a conversation of the caller.
        Assert.Equal(2L, await ApiTestClient.ScalarAsync<long>(fixture,
            "SELECT count(*) FROM chat_conversations WHERE tenant_id = @t AND user_id = @u", ("t", _client.TenantId), ("u", _client.UserId)));
        Assert.Equal(1L, await ApiTestClient.ScalarAsync<long>(fixture,
            "SELECT count(*) FROM chat_messages WHERE tenant_id = @t AND user_id = @u AND role = 'assistant' AND content = @c",
            ("t", _client.TenantId), ("u", _client.UserId), ("c", completion.Content[0].Text)));
    }
}
