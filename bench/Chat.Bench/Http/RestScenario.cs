using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Chat.Bench.Cli;
using Chat.Bench.Infrastructure;
using Chat.Bench.Measurement;
using Chat.Bench.Reporting;

namespace Chat.Bench.Http;

public sealed record RestOptions
{
    public required string Target { get; init; }
    public required string Label { get; init; }
    public Uri? Url { get; init; }
    public string? SigningKey { get; init; }
    public required string Postgres { get; init; }
    public required string ChatDataDirectory { get; init; }
    public int Concurrency { get; init; }
    public TimeSpan Duration { get; init; }
    public TimeSpan Warmup { get; init; }
    public required IReadOnlyList<string> Operations { get; init; }
    public int Rows { get; init; }
    public int SeedConversations { get; init; }
    public int HistoryMessages { get; init; }
    public int PageSize { get; init; }
    public int DeepPage { get; init; }
    public required IReadOnlyList<string> Samples { get; init; }
    public required string OutputDirectory { get; init; }

    public static RestOptions From(CommandLine cl)
    {
        var target = cl.String("target", "baseline");
        if (target is not ("chat" or "baseline"))
        {
            throw new UsageException($"--target must be chat or baseline (was '{target}').");
        }
        var options = new RestOptions
        {
            Target = target,
            Label = cl.String("label", "default"),
            Url = cl.OptionalString("url") is { } u ? new Uri(u) : target == "chat" ? new Uri("http://localhost:5300") : null,
            SigningKey = cl.OptionalString("signing-key") ?? Environment.GetEnvironmentVariable("CHAT_BENCH_SIGNING_KEY"),
            Postgres = cl.String("postgres", "start"),
            ChatDataDirectory = cl.String("chat-data", ChatLocalInfrastructure.DefaultDataDirectory()),
            Concurrency = cl.Int("concurrency", 64, 1, 10_000),
            Duration = cl.Duration("duration", TimeSpan.FromSeconds(20)),
            Warmup = cl.Duration("warmup", TimeSpan.FromSeconds(3)),
            Operations = cl.List("ops", target == "chat" ? "create,list,list-deep,history,send" : "pk,page"),
            Rows = cl.Int("rows", 10_000, 1, 10_000_000),
            SeedConversations = cl.Int("seed-conversations", 120, 1, 100_000),
            HistoryMessages = cl.Int("history-messages", 20, 0, 10_000),
            PageSize = cl.Int("page-size", 20, 1, 100),
            DeepPage = cl.Int("deep-page", 5, 1, 10_000),
            Samples = cl.List("sample", ""),
            OutputDirectory = cl.String("out", Path.Combine(BaselineServer.RepositoryRoot(), "bench", "results")),
        };
        if (target == "chat" && string.IsNullOrEmpty(options.SigningKey))
        {
            throw new UsageException("--target chat needs --signing-key (or CHAT_BENCH_SIGNING_KEY).");
        }
        return options;
    }
}

/// <summary>
/// REST at fixed concurrency. Chat: create conversation, list (first page and a deep keyset page), history page,
/// send message (sync, on the <c>local</c> provider) — through the gateway or against chat-api directly.
/// Baseline: GET /items/{id} on bench/Baselines/RestBaseline (one primary-key SELECT), and with <c>--ops pk,page</c>
/// GET /conversations/{n}/messages (a history page's SELECT and JSON, without Chat).
/// </summary>
public sealed class RestScenario(RestOptions options)
{
    private const string Tenant = "bench";

    /// <summary>Conversations the baseline seeds for the page floor (RestBaseline:PageConversations).</summary>
    private const int PageConversations = 100;
    private readonly List<IAsyncDisposable> _owned = [];

    public async Task<HttpRunResult> RunAsync(CancellationToken ct)
    {
        try
        {
            var startedAt = DateTimeOffset.UtcNow;
            var (url, groups) = options.Target == "chat" ? (options.Url!, ChatGroups()) : await StartBaselineAsync();
            groups.Add(new SampledGroup("bench", [Environment.ProcessId]));
            groups.AddRange(options.Samples.Select(ProcessSampler.Resolve));
            var sampler = new ProcessSampler(groups);
            Console.WriteLine($"sampling: {string.Join(", ", groups.Select(g => $"{g.Label}[{string.Join(' ', g.Pids)}]"))}");

            using var http = new HttpClient(new SocketsHttpHandler
            {
                MaxConnectionsPerServer = options.Concurrency,
                PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            })
            { BaseAddress = url, Timeout = TimeSpan.FromSeconds(60) };

            var results = new List<HttpOperationResult>();
            if (options.Target == "baseline")
            {
                foreach (var op in options.Operations)
                {
                    (string Name, HttpLoad.Operation Run) operation = op switch
                    {
                        "pk" => ("pk-select", async (_, token) => await SendAsync(http, HttpMethod.Get, $"/items/{Random.Shared.Next(1, options.Rows + 1)}", null, null, token)),
                        // The history page's floor: the same rows and JSON as Chat's `history` op, without Chat.
                        "page" => ("page-select", async (_, token) => await SendAsync(http, HttpMethod.Get,
                            $"/conversations/{Random.Shared.Next(1, PageConversations + 1)}/messages?limit=50", null, null, token)),
                        _ => throw new UsageException($"Unknown baseline operation '{op}' (pk, page)."),
                    };
                    results.Add(await HttpLoad.RunAsync(operation.Name, options.Concurrency, options.Warmup, options.Duration, operation.Run, sampler, ct));
                }
            }
            else
            {
                var chat = await ChatFixture.CreateAsync(http, options, ct);
                foreach (var op in options.Operations)
                {
                    results.Add(await HttpLoad.RunAsync(op, options.Concurrency, options.Warmup, options.Duration, chat.Operation(http, op), sampler, ct));
                }
            }

            return new HttpRunResult("rest", options.Target, options.Label, startedAt, MachineInfo.Current(), new Dictionary<string, string>
            {
                ["url"] = url.ToString(),
                ["concurrency"] = options.Concurrency.ToString(CultureInfo.InvariantCulture),
                ["duration"] = options.Duration.ToString(),
                ["warmup"] = options.Warmup.ToString(),
                ["ops"] = string.Join(',', options.Operations),
                ["pageSize"] = options.PageSize.ToString(CultureInfo.InvariantCulture),
                ["deepPage"] = options.DeepPage.ToString(CultureInfo.InvariantCulture),
                ["historyMessages"] = options.HistoryMessages.ToString(CultureInfo.InvariantCulture),
            }, results);
        }
        finally
        {
            for (var i = _owned.Count - 1; i >= 0; i--)
            {
                await _owned[i].DisposeAsync();
            }
        }
    }

    internal static async Task<RequestOutcome> SendAsync(HttpClient http, HttpMethod method, string path, string? token, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        return new RequestOutcome((int)response.StatusCode, response.IsSuccessStatusCode);
    }

    private List<SampledGroup> ChatGroups()
    {
        var root = BaselineServer.RepositoryRoot();
        List<SampledGroup> groups = [.. new[] { ("gateway", "Chat.Gateway"), ("chat-api", "Chat.Api") }
            .Select(s => ProcessSampler.Resolve($"{s.Item1}=name:{Path.Combine(root, s.Item2, "bin")}/"))];
        try
        {
            groups.Add(new SampledGroup("postgres", [ChatLocalInfrastructure.FindPostgres(options.ChatDataDirectory).Pid], IncludeChildren: true));
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException)
        {
            Console.WriteLine("  postgres not sampled: " + ex.Message);
        }
        return groups;
    }

    private async Task<(Uri, List<SampledGroup>)> StartBaselineAsync()
    {
        string connectionString;
        int? postgresPid;
        switch (options.Postgres)
        {
            case "start":
                var local = await LocalPostgres.StartAsync(LocalPostgres.FindBinDirectory());
                _owned.Add(local);
                Console.WriteLine($"started postgres on port {local.Port} (pid {local.Pid})");
                (connectionString, postgresPid) = (local.ConnectionString, local.Pid);
                break;
            case "chat":
                (postgresPid, connectionString) = ChatLocalInfrastructure.FindPostgres(options.ChatDataDirectory);
                Console.WriteLine($"using the app host's postgres (pid {postgresPid}), database 'postgres'");
                break;
            default:
                (connectionString, postgresPid) = (options.Postgres, null);
                break;
        }
        if (options.Url is { } given)
        {
            return (given, ProcFs.FindListener(given.Port) is { } p ? [new SampledGroup("rest-baseline", [p])] : []);
        }
        var server = await BaselineServer.StartAsync("RestBaseline", new Dictionary<string, string>
        {
            ["RestBaseline:Postgres"] = connectionString,
            ["RestBaseline:Rows"] = options.Rows.ToString(CultureInfo.InvariantCulture),
            ["RestBaseline:PageConversations"] = PageConversations.ToString(CultureInfo.InvariantCulture),
        }, TimeSpan.FromSeconds(60));
        _owned.Add(server);
        Console.WriteLine($"started RestBaseline at {server.Url} (pid {server.Pid})");
        List<SampledGroup> groups = [new SampledGroup("RestBaseline", [server.Pid])];
        if (postgresPid is { } pg)
        {
            // The postmaster's backends are its children; sampling the postmaster alone would miss the work.
            groups.Add(new SampledGroup("postgres", [pg], IncludeChildren: true));
        }
        return (server.Url, groups);
    }

    /// <summary>The data the Chat operations read and write, made before measuring.</summary>
    private sealed class ChatFixture
    {
        private string _readerToken = "";
        private string? _deepCursor;
        private Guid _historyConversation;
        private readonly List<(string Token, Guid Conversation)> _senders = [];

        public static async Task<ChatFixture> CreateAsync(HttpClient http, RestOptions options, CancellationToken ct)
        {
            var fixture = new ChatFixture { _readerToken = BenchTokens.Create(options.SigningKey!, "bench-rest-reader", Tenant, TimeSpan.FromHours(4)) };
            var ops = options.Operations.ToHashSet(StringComparer.Ordinal);
            if (ops.Overlaps(["list", "list-deep"]))
            {
                await Parallel.ForEachAsync(Enumerable.Range(0, options.SeedConversations), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct },
                    async (i, token) => await CreateConversationAsync(http, fixture._readerToken, $"seed {i}", token));
            }
            if (ops.Contains("list-deep"))
            {
                string? cursor = null;
                for (var page = 1; page < options.DeepPage; page++)
                {
                    using var response = await Authorized(http, HttpMethod.Get, $"/api/v1/conversations?limit={options.PageSize}" + CursorQuery(cursor), fixture._readerToken, null, ct);
                    using var body = await JsonDocument.ParseAsync(await response.EnsureSuccessStatusCode().Content.ReadAsStreamAsync(ct), cancellationToken: ct);
                    var next = body.RootElement.TryGetProperty("nextCursor", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                    if (next is null)
                    {
                        Console.WriteLine($"  only {page} pages exist; list-deep reads page {page}");
                        break;
                    }
                    cursor = next;
                }
                fixture._deepCursor = cursor;
            }
            if (ops.Contains("history"))
            {
                fixture._historyConversation = await CreateConversationAsync(http, fixture._readerToken, "history", ct);
                for (var i = 0; i < options.HistoryMessages; i++)
                {
                    using var response = await Authorized(http, HttpMethod.Post, $"/api/v1/conversations/{fixture._historyConversation}/messages",
                        fixture._readerToken, new { content = $"history message {i}", clientMessageId = Guid.NewGuid().ToString() }, ct);
                    response.EnsureSuccessStatusCode();
                }
            }
            if (ops.Contains("send"))
            {
                // One user per worker: the gateway caps concurrent generations per user.
                for (var w = 0; w < options.Concurrency; w++)
                {
                    var token = BenchTokens.Create(options.SigningKey!, $"bench-rest-sender-{w}", Tenant, TimeSpan.FromHours(4));
                    fixture._senders.Add((token, await CreateConversationAsync(http, token, $"sender {w}", ct)));
                }
            }
            fixture._pageSize = options.PageSize;
            Console.WriteLine("chat fixture ready");
            return fixture;
        }

        private int _pageSize;

        public HttpLoad.Operation Operation(HttpClient http, string name) => name switch
        {
            "create" => (_, ct) => SendAsync(http, HttpMethod.Post, "/api/v1/conversations", _readerToken, new { title = "bench" }, ct),
            "list" => (_, ct) => SendAsync(http, HttpMethod.Get, $"/api/v1/conversations?limit={_pageSize}", _readerToken, null, ct),
            "list-deep" => (_, ct) => SendAsync(http, HttpMethod.Get, $"/api/v1/conversations?limit={_pageSize}" + CursorQuery(_deepCursor), _readerToken, null, ct),
            "history" => (_, ct) => SendAsync(http, HttpMethod.Get, $"/api/v1/conversations/{_historyConversation}/messages?limit=50", _readerToken, null, ct),
            "send" => (w, ct) => SendAsync(http, HttpMethod.Post, $"/api/v1/conversations/{_senders[w].Conversation}/messages", _senders[w].Token,
                new { content = "Hello from the bench.", clientMessageId = Guid.NewGuid().ToString() }, ct),
            _ => throw new UsageException($"Unknown REST operation '{name}' (create, list, list-deep, history, send)."),
        };

        private static string CursorQuery(string? cursor) => cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor);

        private static async Task<Guid> CreateConversationAsync(HttpClient http, string token, string title, CancellationToken ct)
        {
            using var response = await Authorized(http, HttpMethod.Post, "/api/v1/conversations", token, new { title }, ct);
            if (response.StatusCode != HttpStatusCode.Created)
            {
                throw new InvalidOperationException($"POST /api/v1/conversations answered {(int)response.StatusCode}.");
            }
            using var body = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct), cancellationToken: ct);
            return body.RootElement.GetProperty("id").GetGuid();
        }

        private static async Task<HttpResponseMessage> Authorized(HttpClient http, HttpMethod method, string path, string token, object? body, CancellationToken ct)
        {
            using var request = new HttpRequestMessage(method, path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (body is not null)
            {
                request.Content = JsonContent.Create(body);
            }
            return await http.SendAsync(request, ct);
        }
    }
}
