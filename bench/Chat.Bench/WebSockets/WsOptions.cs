using Chat.Bench.Cli;

namespace Chat.Bench.WebSockets;

/// <summary>Which server the fan-out scenario drives.</summary>
public enum WsTarget
{
    /// <summary>Chat's /ws (through the gateway, or one chat-streaming replica directly).</summary>
    Chat,

    /// <summary>bench/Baselines/RawWs: the strongest simple server (sends inline when the socket is idle).</summary>
    Raw,

    /// <summary>bench/Baselines/SignalRPeer: SignalR with the Redis backplane.</summary>
    SignalR,
}

/// <summary>When a step of the step mode no longer holds.</summary>
public sealed record StepThresholds(double MaxP99Ms, double MinDeliveredRatio);

/// <summary>Everything <c>ws</c> and <c>ws-step</c> take; see <see cref="BenchCommands.Usage"/> and docs/BENCHMARKS.md.</summary>
public sealed record WsOptions
{
    public required WsTarget Target { get; init; }
    public required string Label { get; init; }

    /// <summary>
    /// Server base URL (http://…); null for raw/signalr means: start the baseline server here. For chat,
    /// <c>http://replica</c> means one chat-streaming replica directly, found by its process.
    /// </summary>
    public Uri? Url { get; init; }

    /// <summary>Where Chat's REST API is, to create the conversations (default: <see cref="Url"/>).</summary>
    public Uri? ApiUrl { get; init; }

    public string? SigningKey { get; init; }
    public int Users { get; init; }

    /// <summary><c>start</c> (a throw-away redis-server), <c>chat</c> (the app host's), or a StackExchange.Redis configuration.</summary>
    public required string Redis { get; init; }

    /// <summary>
    /// <c>--redis-writes publish</c>: the publisher sends one PUBLISH per frame and no replay stream (raw only), the least
    /// Redis traffic a fan-out needs; the default (<c>chat</c>) writes Chat's contract, so Redis costs raw what it costs Chat.
    /// </summary>
    public bool PublishOnly { get; init; }

    public required string ChatDataDirectory { get; init; }
    public int Sockets { get; init; }
    public int PerConversation { get; init; }
    public int ConnectParallelism { get; init; }

    /// <summary>Sockets connected before the RSS baseline is taken (warm-up of both sides), at most half of them.</summary>
    public int WarmSockets { get; init; }
    public required IReadOnlyList<double> Rates { get; init; }
    public double TokensPerSecond { get; init; }
    public int ChunksPerGeneration { get; init; }
    public int ChunkBytes { get; init; }
    public TimeSpan Duration { get; init; }
    public TimeSpan Warmup { get; init; }
    public TimeSpan Drain { get; init; }
    public TimeSpan Settle { get; init; }
    public required StepThresholds Thresholds { get; init; }
    public bool StepMode { get; init; }
    public required IReadOnlyList<string> Samples { get; init; }
    public required string OutputDirectory { get; init; }

    public int Conversations => (Sockets + PerConversation - 1) / PerConversation;

    /// <summary>How results name the target: <c>chat</c> (through the gateway), <c>chat-direct</c> (one replica), <c>raw</c>,
    /// <c>raw-publish</c> (raw with PUBLISH only), <c>signalr</c>.</summary>
    public string TargetName => Target switch
    {
        WsTarget.Chat when Url?.Host == "replica" => "chat-direct",
        WsTarget.Raw when PublishOnly => "raw-publish",
        _ => Target.ToString().ToLowerInvariant(),
    };

    public static WsOptions From(CommandLine cl, bool stepMode)
    {
        var target = cl.String("target", "raw").ToLowerInvariant() switch
        {
            "chat" => WsTarget.Chat,
            "raw" => WsTarget.Raw,
            "signalr" => WsTarget.SignalR,
            var other => throw new UsageException($"--target must be chat, raw or signalr (was '{other}')."),
        };
        var url = cl.OptionalString("url") is { } u ? new Uri(u) : target == WsTarget.Chat ? new Uri("http://localhost:5300") : null;
        IReadOnlyList<double> rates;
        if (stepMode)
        {
            rates = cl.OptionalString("rates") is { } list
                ? list.Split(',').Select(r => double.Parse(r, System.Globalization.CultureInfo.InvariantCulture)).ToList()
                : Geometric(cl.Double("start-rate", 10, 0.01), cl.Double("step-factor", 1.5, 1.01), cl.Int("max-steps", 12, 1, 100));
        }
        else
        {
            rates = [cl.Double("rate", 10, 0.01)];
        }
        var options = new WsOptions
        {
            Target = target,
            Label = cl.String("label", "default"),
            Url = url,
            ApiUrl = cl.OptionalString("api-url") is { } a ? new Uri(a) : url?.Host == "replica" ? new Uri("http://localhost:5300") : url,
            SigningKey = cl.OptionalString("signing-key") ?? Environment.GetEnvironmentVariable("CHAT_BENCH_SIGNING_KEY"),
            Users = cl.Int("users", 1, 1, 1_000_000),
            Redis = cl.String("redis", target == WsTarget.Chat ? "chat" : "start"),
            PublishOnly = cl.String("redis-writes", "chat").ToLowerInvariant() switch
            {
                "chat" => false,
                "publish" => true,
                var other => throw new UsageException($"--redis-writes must be chat or publish (was '{other}')."),
            },
            ChatDataDirectory = cl.String("chat-data", Infrastructure.ChatLocalInfrastructure.DefaultDataDirectory()),
            Sockets = cl.Int("sockets", 10, 1, 1_000_000),
            PerConversation = cl.Int("per-conversation", 1, 1, 1_000_000),
            ConnectParallelism = cl.Int("connect-parallelism", 32, 1, 10_000),
            WarmSockets = cl.Int("warm-sockets", 50, 0, 1_000_000),
            Rates = rates,
            TokensPerSecond = cl.Double("tokens-per-second", 50, 0.1, 100_000),
            ChunksPerGeneration = cl.Int("chunks", 50, 1, 100_000),
            ChunkBytes = cl.Int("chunk-bytes", 64, 16, 1_000_000),
            Duration = cl.Duration("duration", TimeSpan.FromSeconds(30)),
            Warmup = cl.Duration("warmup", TimeSpan.FromSeconds(5)),
            Drain = cl.Duration("drain", TimeSpan.FromSeconds(10)),
            Settle = cl.Duration("settle", TimeSpan.FromSeconds(2)),
            Thresholds = new StepThresholds(cl.Double("max-p99-ms", 50, 0.01), cl.Double("min-delivered-ratio", 0.98, 0, 1)),
            StepMode = stepMode,
            Samples = cl.List("sample", ""),
            OutputDirectory = cl.String("out", Path.Combine(Infrastructure.BaselineServer.RepositoryRoot(), "bench", "results")),
        };
        if (options.Target == WsTarget.Chat && string.IsNullOrEmpty(options.SigningKey))
        {
            throw new UsageException("--target chat needs --signing-key (or CHAT_BENCH_SIGNING_KEY): the key the app host was started with.");
        }
        if (options.PublishOnly && options.Target != WsTarget.Raw)
        {
            throw new UsageException("--redis-writes publish is for --target raw (Chat needs its replay stream; SignalR has its own backplane).");
        }
        if (options.Warmup >= options.Duration)
        {
            throw new UsageException("--warmup must be shorter than --duration.");
        }
        return options;
    }

    private static List<double> Geometric(double start, double factor, int steps) =>
        Enumerable.Range(0, steps).Select(i => Math.Round(start * Math.Pow(factor, i), 2)).ToList();
}
