using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Chat.Bench.Infrastructure;
using Chat.Bench.Measurement;
using Chat.Bench.Reporting;

namespace Chat.Bench.WebSockets;

/// <summary>
/// The WebSocket fan-out scenario: N sockets over N/K conversations, one publisher at rate R, then per step:
/// delivered chunks/s, loss and duplicates per (generation, seq), publish → receive latency, server RSS and CPU.
/// </summary>
public sealed class WsScenario(WsOptions options)
{
    private readonly List<IAsyncDisposable> _owned = [];

    public async Task<WsRunResult> RunAsync(CancellationToken ct)
    {
        try
        {
            return await RunOwnedAsync(ct);
        }
        finally
        {
            for (var i = _owned.Count - 1; i >= 0; i--)
            {
                await _owned[i].DisposeAsync();
            }
        }
    }

    private async Task<WsRunResult> RunOwnedAsync(CancellationToken ct)
    {
        var startedAt = DateTimeOffset.UtcNow;
        var (redis, redisPid) = await ResolveRedisAsync();
        var (serverUrl, serverGroups) = await ResolveServerAsync(redis);
        IFramePublisher publisher = options.Target == WsTarget.SignalR
            ? await SignalRFramePublisher.StartAsync(redis)
            : await RedisFramePublisher.ConnectAsync(redis, options.PublishOnly);
        _owned.Add(publisher);

        List<SampledGroup> groups = [.. serverGroups];
        if (redisPid is { } rp)
        {
            groups.Add(new SampledGroup("redis", [rp]));
        }
        groups.Add(new SampledGroup("bench", [Environment.ProcessId]));
        groups.AddRange(options.Samples.Select(ProcessSampler.Resolve));
        var sampler = new ProcessSampler(groups);
        Console.WriteLine($"sampling: {string.Join(", ", groups.Select(g => $"{g.Label}[{string.Join(' ', g.Pids)}]"))}");

        var conversations = await CreateConversationsAsync(ct);
        // One handler for every chat.v1 socket, alive until they are closed (it owns their connections' plumbing).
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler { PooledConnectionLifetime = Timeout.InfiniteTimeSpan });
        var context = new TrackingContext(options.ChunksPerGeneration + 2);

        using var samplingStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sampling = sampler.RunAsync(samplingStop.Token);
        try
        {
            ProcessSnapshot? idle = null;
            var connect = await ConnectAllAsync(serverUrl, conversations, context, invoker, () => idle = sampler.Take(), ct);
            try
            {
                await Task.Delay(options.Settle, ct);
                var connected = sampler.Take();
                var connectUsage = sampler.Between(idle!, connected);
                var open = connect.Connections.Count;
                var measured = open - connect.Warm;
                var rssPerConnection = connectUsage.Where(u => u.Label != "bench" && u.Label != "redis" && measured > 0)
                    .ToDictionary(u => u.Label, u => Math.Round((u.RssEndMiB - u.RssStartMiB) * 1024 / measured, 2));
                Console.WriteLine($"connected {open}/{options.Sockets} sockets over {conversations.Count} conversations; " +
                    $"after {connect.Warm} warm-up sockets, {measured} in {connect.Seconds:0.0}s ({measured / connect.Seconds:0} /s); " +
                    $"connect {connect.Latency.Summarize()}");
                foreach (var usage in connectUsage)
                {
                    Console.WriteLine($"  {usage.Label}: RSS {usage.RssStartMiB} → {usage.RssEndMiB} MiB" +
                        (rssPerConnection.TryGetValue(usage.Label, out var kib) ? $" ({kib} KiB per connection)" : ""));
                }

                var subscribers = connect.Connections.GroupBy(c => c.ConversationId).ToDictionary(g => g.Key, g => (long)g.Count());
                var steps = new List<WsStepResult>();
                WsStepResult? lastHeld = null;
                foreach (var rate in options.Rates)
                {
                    var step = await RunStepAsync(rate, publisher, conversations, connect.Connections, subscribers, context, sampler, ct);
                    steps.Add(step);
                    PrintStep(step);
                    if (step.Held)
                    {
                        lastHeld = step;
                    }
                    else if (options.StepMode)
                    {
                        break;
                    }
                }
                if (options.StepMode)
                {
                    Console.WriteLine(lastHeld is null
                        ? "step mode: no step held"
                        : $"step mode: last step that held: {lastHeld.GenerationsPerSecond} generations/s = {lastHeld.DeliveredChunksPerSecond:0} delivered chunks/s, p99 {lastHeld.Latency.P99Ms:0.##} ms");
                }

                return new WsRunResult(options.StepMode ? "ws-step" : "ws", options.TargetName, options.Label, startedAt,
                    MachineInfo.Current(), Parameters(), options.Sockets, conversations.Count, open, connect.Failures, connect.Errors,
                    Math.Round(measured / connect.Seconds, 1), connect.Latency.Summarize(), connectUsage, rssPerConnection, steps, lastHeld);
            }
            finally
            {
                await CloseAllAsync(connect.Connections);
            }
        }
        finally
        {
            await samplingStop.CancelAsync();
            await sampling;
        }
    }

    private async Task<WsStepResult> RunStepAsync(
        double rate, IFramePublisher publisher, List<Guid> conversations, List<IBenchConnection> connections,
        IReadOnlyDictionary<Guid, long> subscribers, TrackingContext context, ProcessSampler sampler, CancellationToken ct)
    {
        foreach (var connection in connections)
        {
            connection.Tracker.Reset();
        }
        context.Latency.Reset();
        context.MeasureFromTimestamp = long.MaxValue;
        sampler.ResetPeaks();

        ProcessSnapshot? windowStart = null, windowEnd = null;
        long deliveredAtStart = 0, deliveredAtEnd = 0;
        var shape = new LoadShape(rate, options.TokensPerSecond, options.ChunksPerGeneration, options.ChunkBytes, options.Duration, options.Warmup);
        var driver = new GenerationDriver(publisher, conversations, subscribers);
        var published = await driver.RunAsync(shape,
            onWindowStart: () =>
            {
                context.MeasureFromTimestamp = Stopwatch.GetTimestamp();
                deliveredAtStart = connections.Sum(c => c.Tracker.Chunks);
                windowStart = sampler.Take();
            },
            onWindowEnd: () =>
            {
                deliveredAtEnd = connections.Sum(c => c.Tracker.Chunks);
                windowEnd = sampler.Take();
            },
            ct);

        var expected = published.GenerationsPerConversation.Sum(kv => kv.Value * subscribers.GetValueOrDefault(kv.Key)) * (options.ChunksPerGeneration + 2);
        using (var drain = new CancellationTokenSource(options.Drain))
        {
            while (connections.Sum(c => c.Tracker.Unique) < expected && !drain.IsCancellationRequested)
            {
                await Task.Delay(50, ct);
            }
        }

        var unique = connections.Sum(c => c.Tracker.Unique);
        var duplicates = connections.Sum(c => c.Tracker.Duplicates);
        var unexpected = connections.Sum(c => c.Tracker.Unexpected);
        var errors = connections.Sum(c => c.Tracker.Errors);
        var offered = published.ChunksInWindow / published.WindowSeconds;
        var delivered = (deliveredAtEnd - deliveredAtStart) / published.WindowSeconds;
        var owed = published.DeliveriesOwedInWindow / published.WindowSeconds;
        var ratio = owed > 0 ? delivered / owed : 0;
        var latency = context.Latency.Summarize();
        var lost = expected - unique;

        string? broke = null;
        if (lost > 0 || duplicates > 0)
        {
            broke = $"lost {lost}, duplicated {duplicates}";
        }
        else if (!(latency.P99Ms <= options.Thresholds.MaxP99Ms))
        {
            broke = $"p99 {latency.P99Ms:0.##} ms > {options.Thresholds.MaxP99Ms} ms";
        }
        else if (ratio < options.Thresholds.MinDeliveredRatio)
        {
            broke = $"delivered {ratio:P1} of the chunks owed to subscribers < {options.Thresholds.MinDeliveredRatio:P0}";
        }

        return new WsStepResult(rate, Math.Round(offered, 1), Math.Round(delivered, 1), Math.Round(ratio, 4), published.Generations,
            published.Frames, expected, unique, lost, duplicates, unexpected, errors, connections.Count(c => c.IsOpen), latency,
            sampler.Between(windowStart!, windowEnd!), broke is null, broke);
    }

    private static void PrintStep(WsStepResult s)
    {
        Console.WriteLine($"rate {s.GenerationsPerSecond} gen/s: offered {s.OfferedChunksPerSecond:0} chunks/s, delivered {s.DeliveredChunksPerSecond:0} chunks/s " +
            $"({s.DeliveredRatio:P1}), lost {s.Lost}, dup {s.Duplicates}, unexpected {s.Unexpected}, errors {s.ErrorFrames}, open {s.OpenSockets}; " +
            $"latency {s.Latency} → {(s.Held ? "held" : "BROKE: " + s.BrokeBecause)}");
        foreach (var p in s.Processes)
        {
            Console.WriteLine($"  {p.Label}: CPU {p.CpuCores:0.00} cores, RSS {p.RssEndMiB} MiB (peak {p.RssPeakMiB})");
        }
    }

    private sealed record ConnectResult(
        List<IBenchConnection> Connections, int Warm, int Failures, List<string> Errors, double Seconds, LatencyHistogram Latency);

    /// <summary>
    /// Connects a small warm-up batch first (JIT, pools and first-use allocations on both sides), calls
    /// <paramref name="afterWarm"/> (the "before" snapshot of RSS per connection), then the rest; the connect rate
    /// and RSS per connection are over the rest.
    /// </summary>
    private async Task<ConnectResult> ConnectAllAsync(
        Uri serverUrl, List<Guid> conversations, TrackingContext context, HttpMessageInvoker invoker, Action afterWarm, CancellationToken ct)
    {
        var tokens = options.Target == WsTarget.Chat
            ? Enumerable.Range(0, options.Users).Select(u => BenchTokens.Create(options.SigningKey!, UserId(u), "bench", TimeSpan.FromHours(4))).ToList()
            : null;
        var slots = new IBenchConnection?[options.Sockets];
        var latency = new LatencyHistogram();
        var errors = new List<string>();
        var failures = 0;
        var warm = Math.Min(options.WarmSockets, options.Sockets / 2);

        async ValueTask ConnectOneAsync(int i, CancellationToken token)
        {
            var conversationIndex = i / options.PerConversation;
            var conversation = conversations[conversationIndex];
            var tracker = new FrameTracker(context);
            IBenchConnection connection = options.Target switch
            {
                WsTarget.SignalR => new SignalRConnection(serverUrl, conversation, tracker),
                WsTarget.Chat => new ChatProtocolConnection(
                    WebSocketUri(serverUrl, tokens![conversationIndex % options.Users]), conversation, tracker, invoker),
                _ => new ChatProtocolConnection(WebSocketUri(serverUrl, null), conversation, tracker, invoker),
            };
            var begin = Stopwatch.GetTimestamp();
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                await connection.ConnectAsync(timeout.Token);
                if (i >= warm)
                {
                    latency.RecordElapsed(begin, Stopwatch.GetTimestamp());
                }
                slots[i] = connection;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
            {
                Interlocked.Increment(ref failures);
                lock (errors)
                {
                    if (errors.Count < 5)
                    {
                        errors.Add(ex.GetType().Name + ": " + ex.Message);
                    }
                }
                await connection.DisposeAsync();
            }
        }

        var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.ConnectParallelism, CancellationToken = ct };
        await Parallel.ForEachAsync(Enumerable.Range(0, warm), parallel, ConnectOneAsync);
        await Task.Delay(options.Settle, ct);
        afterWarm();
        var started = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(Enumerable.Range(warm, options.Sockets - warm), parallel, ConnectOneAsync);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        foreach (var error in errors)
        {
            Console.WriteLine("  connect error: " + error);
        }
        return new ConnectResult(slots.OfType<IBenchConnection>().ToList(), warm, failures, errors, seconds, latency);
    }

    private static async Task CloseAllAsync(IReadOnlyList<IBenchConnection> connections) =>
        await Parallel.ForEachAsync(connections, new ParallelOptions { MaxDegreeOfParallelism = 64 },
            async (c, _) => await c.DisposeAsync());

    private static Uri WebSocketUri(Uri server, string? token)
    {
        var builder = new UriBuilder(server) { Scheme = server.Scheme == "https" ? "wss" : "ws", Path = "/ws" };
        if (token is not null)
        {
            builder.Query = "access_token=" + Uri.EscapeDataString(token);
        }
        return builder.Uri;
    }

    private static string UserId(int user) => string.Create(CultureInfo.InvariantCulture, $"bench-user-{user}");

    private async Task<List<Guid>> CreateConversationsAsync(CancellationToken ct)
    {
        if (options.Target != WsTarget.Chat)
        {
            return Enumerable.Range(0, options.Conversations).Select(_ => Guid.NewGuid()).ToList();
        }
        var ids = new Guid[options.Conversations];
        using var http = new HttpClient { BaseAddress = options.ApiUrl, Timeout = TimeSpan.FromSeconds(30) };
        var tokens = Enumerable.Range(0, options.Users).Select(u => BenchTokens.Create(options.SigningKey!, UserId(u), "bench", TimeSpan.FromHours(4))).ToList();
        var started = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(Enumerable.Range(0, ids.Length), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct },
            async (i, token) =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/conversations")
                {
                    Content = JsonContent.Create(new { title = $"bench {i}" }),
                };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens[i % options.Users]);
                using var response = await http.SendAsync(request, token);
                if (!response.IsSuccessStatusCode)
                {
                    throw new InvalidOperationException($"POST /api/v1/conversations answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(token)}");
                }
                using var body = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(token), cancellationToken: token);
                ids[i] = body.RootElement.GetProperty("id").GetGuid();
            });
        Console.WriteLine($"created {ids.Length} conversations in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0}s");
        return [.. ids];
    }

    private async Task<(string Configuration, int? Pid)> ResolveRedisAsync()
    {
        switch (options.Redis)
        {
            case "start":
                var local = await LocalRedis.StartAsync();
                _owned.Add(local);
                Console.WriteLine($"started redis-server on port {local.Port} (pid {local.Pid})");
                return (local.ConnectionString, local.Pid);
            case "chat":
                var (pid, configuration) = ChatLocalInfrastructure.FindRedis(options.ChatDataDirectory);
                Console.WriteLine($"using the app host's redis-server (pid {pid})");
                return (configuration, pid);
            default:
                var endpoint = options.Redis.Split(',')[0];
                var port = int.Parse(endpoint[(endpoint.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
                return (options.Redis, ProcFs.FindListener(port));
        }
    }

    private async Task<(Uri Url, List<SampledGroup> Groups)> ResolveServerAsync(string redis)
    {
        if (options.Target == WsTarget.Chat && options.Url?.Host == "replica")
        {
            // One chat-streaming replica directly, by the port its process listens on (behind the orchestrator's proxy).
            var root = BaselineServer.RepositoryRoot();
            var replicas = ProcFs.FindByCommandLine($"{Path.Combine(root, "Chat.Streaming", "bin")}/");
            var replica = replicas.FirstOrDefault(pid => ProcFs.ListeningPorts(pid).Count > 0);
            if (replica == 0)
            {
                throw new InvalidOperationException($"No listening Chat.Streaming process under {root}: is Chat running (./run.sh)?");
            }
            var port = ProcFs.ListeningPorts(replica).Min();
            Console.WriteLine($"driving chat-streaming replica pid {replica} on port {port} directly");
            var others = new[] { ("gateway", "Chat.Gateway"), ("chat-api", "Chat.Api") }
                .Select(s => ProcessSampler.Resolve($"{s.Item1}=name:{Path.Combine(root, s.Item2, "bin")}/"));
            return (new Uri($"http://127.0.0.1:{port}"), [new SampledGroup("chat-streaming", [replica]), .. others]);
        }
        if (options.Target == WsTarget.Chat)
        {
            var root = BaselineServer.RepositoryRoot();
            var groups = new[] { ("gateway", "Chat.Gateway"), ("chat-streaming", "Chat.Streaming"), ("chat-api", "Chat.Api") }
                .Select(s => ProcessSampler.Resolve($"{s.Item1}=name:{Path.Combine(root, s.Item2, "bin")}/"))
                .ToList();
            return (options.Url!, groups);
        }
        if (options.Url is { } given)
        {
            var pid = ProcFs.FindListener(given.Port);
            return (given, pid is { } p ? [new SampledGroup(options.Target.ToString().ToLowerInvariant(), [p])] : []);
        }
        var (project, key) = options.Target == WsTarget.Raw ? ("RawWs", "RawWs:Redis") : ("SignalRPeer", "SignalRPeer:Redis");
        var server = await BaselineServer.StartAsync(project, new Dictionary<string, string> { [key] = redis }, TimeSpan.FromSeconds(60));
        _owned.Add(server);
        Console.WriteLine($"started {project} at {server.Url} (pid {server.Pid})");
        return (server.Url, [new SampledGroup(project, [server.Pid])]);
    }

    private Dictionary<string, string> Parameters() => new()
    {
        ["target"] = options.TargetName,
        ["url"] = options.Url?.ToString() ?? "(started by the bench)",
        ["sockets"] = options.Sockets.ToString(CultureInfo.InvariantCulture),
        ["perConversation"] = options.PerConversation.ToString(CultureInfo.InvariantCulture),
        ["conversations"] = options.Conversations.ToString(CultureInfo.InvariantCulture),
        ["rates"] = string.Join(',', options.Rates.Select(r => r.ToString(CultureInfo.InvariantCulture))),
        ["tokensPerSecond"] = options.TokensPerSecond.ToString(CultureInfo.InvariantCulture),
        ["chunksPerGeneration"] = options.ChunksPerGeneration.ToString(CultureInfo.InvariantCulture),
        ["chunkBytes"] = options.ChunkBytes.ToString(CultureInfo.InvariantCulture),
        ["duration"] = options.Duration.ToString(),
        ["warmup"] = options.Warmup.ToString(),
        ["maxP99Ms"] = options.Thresholds.MaxP99Ms.ToString(CultureInfo.InvariantCulture),
        ["minDeliveredRatio"] = options.Thresholds.MinDeliveredRatio.ToString(CultureInfo.InvariantCulture),
        ["redis"] = options.Redis.Contains("password", StringComparison.Ordinal) ? "(given)" : options.Redis,
    };
}
