using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Xunit.Abstractions;

namespace Chat.IntegrationTests;

/// <summary>
/// Faults during live replies, against the real app host: every reply ends (stored and with one terminal frame at
/// n+1) whatever dies, and nothing acknowledged is lost.
/// </summary>
[Collection(GenerationFaultCollection.Name)]
public sealed class GenerationFaultTests(GenerationFaultFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan s_sweptWithin = TimeSpan.FromSeconds(30);
    private ChatAppFixture Chat => fixture.Chat;

    [Fact]
    public async Task KillingAChatApiReplicaMidReplyInterruptsItsGenerationsWithinThirtySecondsAndEveryClientGetsTheTerminalFrame()
    {
        var api = new ApiTestClient(Chat);
        const int sockets = 4;

        // One SSE reader through the gateway: its generation's replica is the one killed.
        var sseConversation = ApiTestClient.Id(await api.CreateConversationAsync("sse"));
        using var ssePost = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/conversations/{sseConversation}/messages")
        {
            Content = JsonContent.Create(new { content = "Tell me a long story", clientMessageId = "sse-1" }),
        };
        ssePost.Headers.Authorization = new AuthenticationHeaderValue("Bearer", api.Token);
        ssePost.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        var sseResponse = await Chat.Gateway.SendAsync(ssePost, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, sseResponse.StatusCode);
        var sseGeneration = Guid.Parse(sseResponse.Headers.GetValues("X-Generation-Id").Single());
        var sse = new SseReader(await sseResponse.Content.ReadAsStreamAsync());
        var sseEvents = new List<SseReader.Event>();
        string? victimReplica = null;

        // WebSocket senders, each with a conversation of its own.
        var clients = new List<(StreamingTestClient Socket, Guid Conversation, Guid Generation, Guid UserMessage)>();
        for (var i = 0; i < sockets; i++)
        {
            var conversation = ApiTestClient.Id(await api.CreateConversationAsync($"ws-{i}"));
            var socket = await StreamingTestClient.ConnectAsync(Chat.GatewayUri, api.Token);
            await socket.SendAsync(new { type = "message.send", id = i, conversationId = conversation, content = "Tell me a long story", clientMessageId = $"ws-{i}" });
            var ack = await socket.WaitForAsync(f => f.GetProperty("type").GetString() == "ack");
            clients.Add((socket, conversation, ack.GetProperty("generationId").GetGuid(), ack.GetProperty("messageId").GetGuid()));
        }

        try
        {
            // Every reply is under way before the kill.
            while (sseEvents.Count < 4)
            {
                sseEvents.Add((await sse.NextAsync(CancellationToken.None))!);
            }

            // Only replies still streaming can be interrupted; one that already ended (a slow machine took long to start the
            // others) is expected to stay completed.
            var owners = await LeaseOwnersAsync([sseGeneration, .. clients.Select(c => c.Generation)]);
            Assert.True(owners.ContainsKey(sseGeneration), "the SSE reply ended before the kill");
            var victim = owners[sseGeneration];
            var victimPid = int.Parse(victim.Split(':')[1], CultureInfo.InvariantCulture);
            var doomed = owners.Where(o => o.Value == victim).Select(o => o.Key).ToHashSet();
            output.WriteLine($"killing chat-api pid {victimPid}; it owns {doomed.Count} of {owners.Count} generations ({owners.Values.Distinct().Count()} owners)");
            victimReplica = (await ResourceFaults.ReplicaIdsAsync(Chat.App, "chat-api")).Single(r => ResourceFaults.ServiceProcessId(Chat.App, r) == victimPid);
            Process.GetProcessById(victimPid).Kill();
            var killed = Stopwatch.StartNew();

            // New messages are served by the surviving replica meanwhile.
            var during = await PostDuringAsync(api, count: 3);

            // The SSE reader's connection died with its replica: it resumes with Last-Event-ID, wherever that lands.
            try
            {
                while (await sse.NextAsync(CancellationToken.None) is { } e)
                {
                    sseEvents.Add(e);
                }
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException)
            {
                output.WriteLine($"SSE cut: {ex.GetType().Name}");
            }
            if (!sseEvents[^1].IsTerminal)
            {
                sseEvents.AddRange(await ResumeSseAsync(api, sseGeneration, sseEvents[^1].Seq));
            }

            // Every WebSocket client ends with a terminal frame right after its last chunk.
            var texts = new Dictionary<Guid, string>();
            foreach (var (socket, _, generation, _) in clients)
            {
                var frames = await socket.ReadGenerationAsync(generation, s_sweptWithin + TimeSpan.FromSeconds(30));
                AssertEndsOnce(frames.Select(f => (f.GetProperty("type").GetString()!, f.GetProperty("seq").GetInt64())).ToList(), doomed.Contains(generation));
                texts[generation] = string.Concat(frames.Where(f => f.GetProperty("type").GetString() == "chunk").Select(f => f.GetProperty("delta").GetString()));
            }
            AssertEndsOnce(sseEvents.Select(e => (e.Type, e.Seq)).ToList(), interrupted: true);
            texts[sseGeneration] = string.Concat(sseEvents.Where(e => e.Type == "chunk").Select(e => e.Data.GetProperty("delta").GetString()));
            output.WriteLine($"every client ended {killed.Elapsed.TotalSeconds:0.0} s after the kill");

            // Stored: interrupted (with the text every client saw) within 30 s, or completed by the survivor.
            var rows = await AssistantRowsAsync(texts.Keys);
            Assert.True(killed.Elapsed < s_sweptWithin + TimeSpan.FromSeconds(5), $"took {killed.Elapsed}");
            foreach (var (generation, text) in texts)
            {
                var (status, content) = rows[generation];
                Assert.Equal(doomed.Contains(generation) ? "interrupted" : "completed", status);
                Assert.Equal(text, content);
            }
            // The SSE reply had streamed chunks before the kill: its partial text survived.
            Assert.NotEmpty(rows[sseGeneration].Content);

            // Nothing acknowledged is lost: every user message answered 2xx is stored.
            var userMessages = clients.Select(c => c.UserMessage).Concat(during).ToArray();
            Assert.Equal(userMessages.Length, await ApiTestClient.ScalarAsync<long>(Chat,
                "SELECT count(*) FROM chat_messages WHERE id = ANY(@ids) AND role = 'user'", ("ids", userMessages)));
        }
        finally
        {
            sse.Dispose();
            foreach (var client in clients)
            {
                await client.Socket.DisposeAsync();
            }
            if (victimReplica is not null)
            {
                // The other tests of this app host want both replicas.
                await ResourceFaults.StartAsync(Chat.App, victimReplica);
            }
        }
    }

    [Fact]
    public async Task RedisKilledForTenSecondsMidReplyFailsNoReplyAndEveryClientEndsWithTheCompleteText()
    {
        var api = new ApiTestClient(Chat);
        var clients = await StartRepliesAsync(api, count: 3);
        try
        {
            await WaitForChunksAsync(clients, 3);
            await ResourceFaults.KillAsync(Chat.App, "cache");
            // The outage itself: the replies go on (and some end) while Redis is away.
            await Task.Delay(TimeSpan.FromSeconds(10));
            await ResourceFaults.StartAsync(Chat.App, "cache");

            var texts = new Dictionary<Guid, string?>();
            foreach (var (socket, _, generation, _) in clients)
            {
                texts[generation] = await ReadToEndOrReloadAsync(socket, generation);
            }

            var rows = await WaitUntilNotStreamingAsync(texts.Keys, TimeSpan.FromSeconds(60));
            foreach (var (generation, text) in texts)
            {
                var (status, content) = rows[generation];
                Assert.Equal("completed", status);
                Assert.NotEmpty(content);
                // Live or replayed, the client holds the stored reply; told to reload, it reads the same from REST.
                Assert.Equal(text ?? await ReloadAsync(api, clients.Single(c => c.Generation == generation).Conversation, generation), content);
            }
        }
        finally
        {
            await DisposeAsync(clients);
        }
    }

    [Fact]
    public async Task PostgresKilledForFortySecondsMidReplyLeavesNoReplyStreamingAndNoSeqGap()
    {
        var api = new ApiTestClient(Chat);
        var clients = await StartRepliesAsync(api, count: 3);
        try
        {
            await WaitForChunksAsync(clients, 3);
            await ResourceFaults.KillAsync(Chat.App, "postgres");
            var down = Stopwatch.StartNew();

            // A request during the outage gets problem details within chat-api's documented bound (10 s), not silence.
            var during = Stopwatch.StartNew();
            using (var response = await api.SendAsync(HttpMethod.Get, "/api/v1/conversations"))
            {
                await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "database_unavailable");
            }
            Assert.True(during.Elapsed < TimeSpan.FromSeconds(15), $"answered after {during.Elapsed}");

            // The replies end while PostgreSQL is away: every client gets its terminal frame right after its last chunk.
            var texts = new Dictionary<Guid, string>();
            foreach (var (socket, _, generation, _) in clients)
            {
                var frames = await socket.ReadGenerationAsync(generation, TimeSpan.FromSeconds(60));
                AssertEndsOnce(frames.Select(f => (f.GetProperty("type").GetString()!, f.GetProperty("seq").GetInt64())).ToList(), interrupted: false);
                texts[generation] = string.Concat(frames.Where(f => f.GetProperty("type").GetString() == "chunk").Select(f => f.GetProperty("delta").GetString()));
            }

            var rest = TimeSpan.FromSeconds(40) - down.Elapsed;
            if (rest > TimeSpan.Zero)
            {
                await Task.Delay(rest); // the outage lasts 40 s
            }
            await ResourceFaults.StartAsync(Chat.App, "postgres");

            // Back: no reply stays streaming, and each is stored as its clients saw it.
            var rows = await WaitUntilNotStreamingAsync(texts.Keys, TimeSpan.FromSeconds(60));
            foreach (var (generation, text) in texts)
            {
                Assert.Equal(("completed", text), rows[generation]);
            }
        }
        finally
        {
            await DisposeAsync(clients);
        }
    }

    /// <summary>Starts one reply per conversation, each sent over a socket of its own through the gateway.</summary>
    private async Task<List<(StreamingTestClient Socket, Guid Conversation, Guid Generation, Guid UserMessage)>> StartRepliesAsync(ApiTestClient api, int count)
    {
        var clients = new List<(StreamingTestClient, Guid, Guid, Guid)>();
        for (var i = 0; i < count; i++)
        {
            var conversation = ApiTestClient.Id(await api.CreateConversationAsync($"reply-{i}"));
            var socket = await StreamingTestClient.ConnectAsync(Chat.GatewayUri, api.Token);
            await socket.SendAsync(new { type = "message.send", id = i, conversationId = conversation, content = "Tell me a long story", clientMessageId = $"m-{i}" });
            var ack = await socket.WaitForAsync(f => f.GetProperty("type").GetString() == "ack");
            clients.Add((socket, conversation, ack.GetProperty("generationId").GetGuid(), ack.GetProperty("messageId").GetGuid()));
        }
        return clients;
    }

    /// <summary>Waits until every reply has streamed <paramref name="chunks"/> chunks, reading (and keeping) the DB's view.</summary>
    private async Task WaitForChunksAsync(IEnumerable<(StreamingTestClient Socket, Guid Conversation, Guid Generation, Guid UserMessage)> clients, int chunks)
    {
        var generations = clients.Select(c => c.Generation).ToArray();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while ((await ApiTestClient.ScalarAsync<long>(Chat,
            "SELECT count(*) FROM chat_messages WHERE generation_id = ANY(@g) AND coalesce(checkpoint_chunks, 0) >= @n",
            ("g", generations), ("n", (long)chunks))) < generations.Length)
        {
            await Task.Delay(200, deadline.Token);
        }
    }

    /// <summary>
    /// Reads one generation's frames until its terminal frame (asserting seq 0..n+1, nothing repeated, and returning the
    /// text), or until the replica says it cannot recover them (<c>stream.restored recovered:false</c>): then null.
    /// </summary>
    private static async Task<string?> ReadToEndOrReloadAsync(StreamingTestClient socket, Guid generation)
    {
        var frames = new List<(string Type, long Seq, string? Delta)>();
        while (true)
        {
            var frame = await socket.NextAsync(timeout: TimeSpan.FromSeconds(60));
            var type = frame.GetProperty("type").GetString()!;
            if (type == "stream.restored" && !frame.GetProperty("recovered").GetBoolean()
                && frame.GetProperty("generationIds").EnumerateArray().Any(g => g.GetGuid() == generation))
            {
                return null;
            }
            if (!frame.TryGetProperty("generationId", out var g) || g.GetString() != generation.ToString() || !frame.TryGetProperty("seq", out var seq))
            {
                continue;
            }
            frames.Add((type, seq.GetInt64(), frame.TryGetProperty("delta", out var d) ? d.GetString() : null));
            if (type.StartsWith("generation.", StringComparison.Ordinal) && type != "generation.started")
            {
                AssertEndsOnce(frames.Select(f => (f.Type, f.Seq)).ToList(), interrupted: false);
                return string.Concat(frames.Select(f => f.Delta));
            }
        }
    }

    private static async Task<string> ReloadAsync(ApiTestClient api, Guid conversation, Guid generation)
    {
        using var response = await api.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{conversation}/messages");
        var page = await ApiTestClient.JsonAsync(response);
        return page.GetProperty("items").EnumerateArray()
            .Single(m => m.TryGetProperty("generationId", out var g) && g.ValueKind == JsonValueKind.String && g.GetGuid() == generation)
            .GetProperty("content").GetString()!;
    }

    /// <summary>Polls (bounded) until none of the generations' messages is <c>streaming</c>; returns their status and content.</summary>
    private async Task<Dictionary<Guid, (string Status, string Content)>> WaitUntilNotStreamingAsync(IEnumerable<Guid> generations, TimeSpan bound)
    {
        using var deadline = new CancellationTokenSource(bound);
        while (true)
        {
            try
            {
                var rows = await AssistantRowsAsync(generations);
                if (rows.Values.All(r => r.Status != "streaming"))
                {
                    return rows;
                }
            }
            catch (NpgsqlException)
            {
                // Still coming back.
            }
            await Task.Delay(500, deadline.Token);
        }
    }

    private static async Task DisposeAsync(IEnumerable<(StreamingTestClient Socket, Guid Conversation, Guid Generation, Guid UserMessage)> clients)
    {
        foreach (var client in clients)
        {
            await client.Socket.DisposeAsync();
        }
    }

    /// <summary>seq 0..n+1 with no gap, one terminal frame and it last; interrupted ones end failed/interrupted.</summary>
    private static void AssertEndsOnce(IReadOnlyList<(string Type, long Seq)> frames, bool interrupted)
    {
        Assert.Equal(Enumerable.Range(0, frames.Count).Select(i => (long)i), frames.Select(f => f.Seq));
        Assert.Equal("generation.started", frames[0].Type);
        Assert.All(frames.Skip(1).SkipLast(1), f => Assert.Equal("chunk", f.Type));
        Assert.Equal(interrupted ? "generation.failed" : "generation.completed", frames[^1].Type);
    }

    /// <summary>
    /// Sends messages the way a client should while a replica is going away: a 503 <c>upstream_unavailable</c> (the
    /// request met the dead replica's connection at the orchestrator's proxy) is retried after its <c>Retry-After</c>;
    /// every message must be accepted within a few attempts.
    /// </summary>
    private async Task<List<Guid>> PostDuringAsync(ApiTestClient api, int count)
    {
        var conversation = await RetryUnavailableAsync(() => api.SendAsync(HttpMethod.Post, "/api/v1/conversations", new { title = "during" }));
        var conversationId = ApiTestClient.Id(JsonDocument.Parse(conversation).RootElement);
        var stored = new List<Guid>();
        for (var i = 0; i < count; i++)
        {
            var body = await RetryUnavailableAsync(() => api.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{conversationId}/messages",
                new { content = $"Still there? {i}", clientMessageId = $"during-{i}" }, r => r.Headers.Add("Prefer", "respond-async")));
            stored.Add(JsonDocument.Parse(body).RootElement.GetProperty("message").GetProperty("id").GetGuid());
        }
        return stored;
    }

    private async Task<string> RetryUnavailableAsync(Func<Task<HttpResponseMessage>> send)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var response = await send();
            var body = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode)
            {
                return body;
            }
            output.WriteLine($"attempt {attempt}: {(int)response.StatusCode} {body}");
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable && attempt < 5, $"{(int)response.StatusCode} {body}");
            Assert.Contains("upstream_unavailable", body);
            await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
        }
    }

    private async Task<List<SseReader.Event>> ResumeSseAsync(ApiTestClient api, Guid generation, long after)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/generations/{generation}/events");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", api.Token);
        request.Headers.Add("Last-Event-ID", after.ToString(CultureInfo.InvariantCulture));
        using var response = await Chat.Gateway.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new SseReader(await response.Content.ReadAsStreamAsync());
        using var cts = new CancellationTokenSource(s_sweptWithin + TimeSpan.FromSeconds(30));
        return await reader.ReadToTerminalAsync(cts.Token);
    }

    /// <summary>The owner of each generation still streaming.</summary>
    private async Task<Dictionary<Guid, string>> LeaseOwnersAsync(IEnumerable<Guid> generations)
    {
        await using var db = await ApiTestClient.OpenDatabaseAsync(Chat);
        await using var command = new NpgsqlCommand(
            "SELECT generation_id, lease_owner FROM chat_messages WHERE generation_id = ANY(@g) AND status = 'streaming'", db);
        command.Parameters.AddWithValue("g", generations.ToArray());
        var owners = new Dictionary<Guid, string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            owners[reader.GetGuid(0)] = reader.GetString(1);
        }
        return owners;
    }

    private async Task<Dictionary<Guid, (string Status, string Content)>> AssistantRowsAsync(IEnumerable<Guid> generations)
    {
        await using var db = await ApiTestClient.OpenDatabaseAsync(Chat);
        await using var command = new NpgsqlCommand("SELECT generation_id, status, content FROM chat_messages WHERE generation_id = ANY(@g)", db);
        command.Parameters.AddWithValue("g", generations.ToArray());
        var rows = new Dictionary<Guid, (string, string)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows[reader.GetGuid(0)] = (reader.GetString(1), reader.GetString(2));
        }
        return rows;
    }
}
