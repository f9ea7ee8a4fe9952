using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
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
    private readonly StoredReplies _stored = new(fixture);

    [Fact]
    public async Task KillingAChatApiReplicaMidReplyInterruptsItsGenerationsWithinThirtySecondsAndEveryClientGetsTheTerminalFrame()
    {
        var api = new ApiTestClient(fixture);
        // One SSE reader through the gateway (its generation's replica is the one killed), and WebSocket senders.
        var (sseGeneration, sse) = await StartSseReplyAsync(api);
        var sseEvents = new List<SseReader.Event>();
        string? victimReplica = null;
        var clients = await ReplySockets.StartAsync(fixture, api, count: 4);
        try
        {
            // Every reply is under way before the kill.
            while (sseEvents.Count < 4)
            {
                sseEvents.Add((await sse.NextAsync(CancellationToken.None))!);
            }

            (victimReplica, var doomed) = await VictimOfAsync(sseGeneration, clients.Select(c => c.Generation));
            var killed = Stopwatch.StartNew();
            await ResourceFaults.KillAsync(fixture.App, victimReplica);

            // New messages are served by the surviving replica meanwhile.
            var during = await PostDuringAsync(api, count: 3);

            // Every client ends with a terminal frame right after its last chunk.
            sseEvents.AddRange(await ReadSseToTheEndAsync(api, sse, sseGeneration, sseEvents[^1].Seq));
            var texts = new Dictionary<Guid, string>();
            foreach (var (socket, _, generation, _) in clients)
            {
                var frames = await socket.ReadGenerationAsync(generation, s_sweptWithin + TimeSpan.FromSeconds(30));
                ReplySockets.AssertEndsOnce(frames.Select(f => (f.GetProperty("type").GetString()!, f.GetProperty("seq").GetInt64())).ToList(), doomed.Contains(generation));
                texts[generation] = string.Concat(frames.Where(f => f.GetProperty("type").GetString() == "chunk").Select(f => f.GetProperty("delta").GetString()));
            }
            ReplySockets.AssertEndsOnce(sseEvents.Select(e => (e.Type, e.Seq)).ToList(), interrupted: true);
            texts[sseGeneration] = string.Concat(sseEvents.Where(e => e.Type == "chunk").Select(e => e.Data.GetProperty("delta").GetString()));
            output.WriteLine($"every client ended {killed.Elapsed.TotalSeconds:0.0} s after the kill");

            // Stored: interrupted (with the text every client saw) within 30 s, or completed by the survivor.
            var rows = await _stored.RowsAsync(texts.Keys);
            Assert.True(killed.Elapsed < s_sweptWithin + TimeSpan.FromSeconds(5), $"took {killed.Elapsed}");
            foreach (var (generation, text) in texts)
            {
                Assert.Equal((doomed.Contains(generation) ? "interrupted" : "completed", text), rows[generation]);
            }
            // The SSE reply had streamed chunks before the kill: its partial text survived.
            Assert.NotEmpty(rows[sseGeneration].Content);

            // Nothing acknowledged is lost: every user message answered 2xx is stored.
            var userMessages = clients.Select(c => c.UserMessage).Concat(during).ToArray();
            Assert.Equal(userMessages.Length, await ApiTestClient.ScalarAsync<long>(fixture,
                "SELECT count(*) FROM chat_messages WHERE id = ANY(@ids) AND role = 'user'", ("ids", userMessages)));
        }
        finally
        {
            sse.Dispose();
            await ReplySockets.DisposeAsync(clients);
            if (victimReplica is not null)
            {
                // The other tests of this app host want both replicas.
                await ResourceFaults.StartAsync(fixture.App, victimReplica);
            }
        }
    }

    [Fact]
    public async Task RedisKilledMidReplyFailsNoReplyAndEveryClientEndsWithTheCompleteText()
    {
        var api = new ApiTestClient(fixture);
        var clients = await ReplySockets.StartAsync(fixture, api, count: 3);
        try
        {
            var generations = clients.Select(c => c.Generation).ToArray();
            await _stored.WaitForChunksAsync(generations, 3);
            await ResourceFaults.KillAsync(fixture.App, "cache");
            // The outage lasts until every reply has gone on without Redis: each has checkpointed at least 100 more chunks
            // (5 s of reply at the fixture's 20 tokens/s), or ended.
            var atKill = await _stored.CheckpointsAsync(generations);
            await Poll.UntilAsync(
                async () => (await _stored.CheckpointsAsync(generations)).All(c => c.Value.Status != "streaming" || c.Value.Chunks >= atKill[c.Key].Chunks + 100),
                TimeSpan.FromSeconds(60), "the replies to go on while Redis is down", TimeSpan.FromMilliseconds(500));
            await ResourceFaults.StartAsync(fixture.App, "cache");

            var texts = new Dictionary<Guid, string?>();
            foreach (var (socket, _, generation, _) in clients)
            {
                texts[generation] = await ReplySockets.ReadToEndOrReloadAsync(socket, generation);
            }

            var rows = await _stored.WaitUntilNotStreamingAsync(texts.Keys, TimeSpan.FromSeconds(60));
            foreach (var (generation, text) in texts)
            {
                var (status, content) = rows[generation];
                Assert.Equal("completed", status);
                Assert.NotEmpty(content);
                // Live or replayed, the client holds the stored reply; told to reload, it reads the same from REST.
                Assert.Equal(text ?? await ReplySockets.ReloadAsync(api, clients.Single(c => c.Generation == generation).Conversation, generation), content);
            }
        }
        finally
        {
            await ReplySockets.DisposeAsync(clients);
        }
    }

    [Fact]
    public async Task PostgresKilledForFortySecondsMidReplyLeavesNoReplyStreamingAndNoSeqGap()
    {
        var api = new ApiTestClient(fixture);
        var clients = await ReplySockets.StartAsync(fixture, api, count: 3);
        try
        {
            await _stored.WaitForChunksAsync(clients.Select(c => c.Generation).ToArray(), 3);
            await ResourceFaults.KillAsync(fixture.App, "postgres");
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
                ReplySockets.AssertEndsOnce(frames.Select(f => (f.GetProperty("type").GetString()!, f.GetProperty("seq").GetInt64())).ToList(), interrupted: false);
                texts[generation] = string.Concat(frames.Where(f => f.GetProperty("type").GetString() == "chunk").Select(f => f.GetProperty("delta").GetString()));
            }

            // Not a synchronisation: the outage is held for 40 s on purpose (the outage), whatever ended before.
            var rest = TimeSpan.FromSeconds(40) - down.Elapsed;
            if (rest > TimeSpan.Zero)
            {
                await Task.Delay(rest);
            }
            await ResourceFaults.StartAsync(fixture.App, "postgres");

            // Back: no reply stays streaming, and each is stored as its clients saw it.
            var rows = await _stored.WaitUntilNotStreamingAsync(texts.Keys, TimeSpan.FromSeconds(60));
            foreach (var (generation, text) in texts)
            {
                Assert.Equal(("completed", text), rows[generation]);
            }
        }
        finally
        {
            await ReplySockets.DisposeAsync(clients);
        }
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

    private static async Task<List<SseReader.Event>> ResumeSseAsync(ApiTestClient api, Guid generation, long after)
    {
        var response = await api.SendAsync(HttpMethod.Get, $"/api/v1/generations/{generation}/events",
            configure: r => r.Headers.Add("Last-Event-ID", after.ToString(CultureInfo.InvariantCulture)),
            completion: HttpCompletionOption.ResponseHeadersRead);
        using var reader = await SseReader.OpenAsync(response);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var cts = new CancellationTokenSource(s_sweptWithin + TimeSpan.FromSeconds(30));
        return await reader.ReadToTerminalAsync(cts.Token);
    }

    /// <summary>Sends a message asking for an SSE reply through the gateway; returns its generation and the open stream.</summary>
    private static async Task<(Guid Generation, SseReader Reader)> StartSseReplyAsync(ApiTestClient api)
    {
        var conversation = ApiTestClient.Id(await api.CreateConversationAsync("sse"));
        var response = await api.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{conversation}/messages",
            new { content = "Tell me a long story", clientMessageId = "sse-1" },
            r => r.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream")),
            HttpCompletionOption.ResponseHeadersRead);
        var reader = await SseReader.OpenAsync(response);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (Guid.Parse(response.Headers.GetValues("X-Generation-Id").Single()), reader);
    }

    /// <summary>
    /// The chat-api replica running <paramref name="target"/>, and the replies it owns. Only replies still streaming can
    /// be interrupted; one that already ended (a slow machine took long to start the others) is expected to stay completed.
    /// </summary>
    private async Task<(string Replica, HashSet<Guid> Doomed)> VictimOfAsync(Guid target, IEnumerable<Guid> others)
    {
        var owners = await _stored.LeaseOwnersAsync([target, .. others]);
        Assert.True(owners.ContainsKey(target), "the SSE reply ended before the kill");
        var victim = owners[target];
        var victimPid = int.Parse(victim.Split(':')[1], CultureInfo.InvariantCulture);
        var doomed = owners.Where(o => o.Value == victim).Select(o => o.Key).ToHashSet();
        output.WriteLine($"killing chat-api pid {victimPid}; it owns {doomed.Count} of {owners.Count} generations ({owners.Values.Distinct().Count()} owners)");
        var replica = (await ResourceFaults.ReplicaIdsAsync(fixture.App, "chat-api")).Single(r => ResourceFaults.ServiceProcessId(fixture.App, r) == victimPid);
        return (replica, doomed);
    }

    /// <summary>
    /// The SSE events after <paramref name="lastSeq"/> up to the terminal one. The reader's connection died with its
    /// replica: it resumes with Last-Event-ID, wherever that lands.
    /// </summary>
    private async Task<List<SseReader.Event>> ReadSseToTheEndAsync(ApiTestClient api, SseReader sse, Guid generation, long lastSeq)
    {
        var events = new List<SseReader.Event>();
        try
        {
            while (await sse.NextAsync(CancellationToken.None) is { } e)
            {
                events.Add(e);
            }
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            output.WriteLine($"SSE cut: {ex.GetType().Name}");
        }
        if (events.Count == 0 || !events[^1].IsTerminal)
        {
            events.AddRange(await ResumeSseAsync(api, generation, events.Count == 0 ? lastSeq : events[^1].Seq));
        }
        return events;
    }
}
