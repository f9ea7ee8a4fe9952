using Chat.Bench.Cli;
using Chat.Bench.Reporting;
using Chat.Bench.WebSockets;

namespace Chat.Bench;

/// <summary>The commands of the load tool (docs/BENCHMARKS.md has the method and the suites).</summary>
public static class BenchCommands
{
    public const string Usage = """
        Chat.Bench — load tool for Chat and its baselines (docs/BENCHMARKS.md)

          ws        WebSocket fan-out at one rate
          ws-step   the same, raising the rate until p99 / loss / delivery breaks a threshold
          rest      REST operations at fixed concurrency (Chat through the gateway or chat-api, or the bare baseline)
          openai    streamed POST /v1/chat/completions: completions/s and time to first chunk
          idle      RSS and CPU of each running Chat process with no load (the 100 MB target)
          report    medians and ratios of the JSON results in a directory, as Markdown

        ws / ws-step:
          --target chat|raw|signalr   --url http://host:port (raw/signalr: omitted = the bench starts the baseline;
                                      chat: default http://localhost:5300, http://replica = one chat-streaming replica)
          --sockets N --per-conversation K --rate R (generations/s) --tokens-per-second T --chunks N --chunk-bytes B
          --duration 30s --warmup 5s --drain 10s --connect-parallelism 32 --warm-sockets 50 --settle 2s --label NAME --out DIR
          --redis start|chat|<host:port,password=...>   --chat-data /var/lib/chat
          --redis-writes chat|publish   (raw only: publish = one PUBLISH per frame, no replay stream; target raw-publish)
          --signing-key KEY (or CHAT_BENCH_SIGNING_KEY) --api-url URL --users U      (chat only)
          --sample label=pid:N|port:N|name:fragment   (more processes to sample, comma-separated)
          ws-step: --rates 10,20,40 | --start-rate 10 --step-factor 1.5 --max-steps 12; --max-p99-ms 50 --min-delivered-ratio 0.98
        rest:    --target chat|baseline --url URL --concurrency 64 --duration 20s --ops create,list,list-deep,history,send
                 (baseline: --ops pk,page; page = a history page's SELECT and JSON without Chat)
                 --postgres start|chat|<connection string> (baseline) --signing-key KEY (chat)
        openai:  --url URL --concurrency 16 --duration 20s --model chat-dev --signing-key KEY --provider-ttft-ms 0
        idle:    --duration 10s --chat-data /var/lib/chat
        report:  --in bench/results
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };
        try
        {
            var cl = CommandLine.Parse(args);
            switch (cl.Command)
            {
                case "ws":
                case "ws-step":
                    var ws = WsOptions.From(cl, stepMode: cl.Command == "ws-step");
                    cl.ThrowOnUnused();
                    var result = await new WsScenario(ws).RunAsync(cts.Token);
                    Console.WriteLine("result: " + await ResultFiles.WriteAsync(ws.OutputDirectory, result.Kind, result.Target, ws.Label, result));
                    // Success: every socket connected, and (ws) nothing lost or duplicated / (ws-step) some step held.
                    var ok = result.Connected == result.Sockets && result.Steps.Count > 0
                        && (ws.StepMode ? result.LastHeld is not null : result.Steps[0].Lost == 0 && result.Steps[0].Duplicates == 0);
                    return ok ? 0 : 1;
                case "rest":
                    var rest = Http.RestOptions.From(cl);
                    cl.ThrowOnUnused();
                    var restResult = await new Http.RestScenario(rest).RunAsync(cts.Token);
                    Console.WriteLine("result: " + await ResultFiles.WriteAsync(rest.OutputDirectory, "rest", rest.Target, rest.Label, restResult));
                    return restResult.Operations.All(o => o.Failed == 0) ? 0 : 1;
                case "openai":
                    var openai = Http.OpenAiOptions.From(cl);
                    cl.ThrowOnUnused();
                    var openaiResult = await new Http.OpenAiScenario(openai).RunAsync(cts.Token);
                    Console.WriteLine("result: " + await ResultFiles.WriteAsync(openai.OutputDirectory, "openai", "chat", openai.Label, openaiResult));
                    return openaiResult.Operations.All(o => o.Failed == 0) ? 0 : 1;
                case "idle":
                    var idleFor = cl.Duration("duration", TimeSpan.FromSeconds(10));
                    var dataDir = cl.String("chat-data", Infrastructure.ChatLocalInfrastructure.DefaultDataDirectory());
                    cl.ThrowOnUnused();
                    return await Measurement.IdleCommand.RunAsync(idleFor, dataDir, cts.Token);
                case "report":
                    var input = cl.String("in", Path.Combine(Infrastructure.BaselineServer.RepositoryRoot(), "bench", "results"));
                    cl.ThrowOnUnused();
                    Console.WriteLine(await Report.BuildAsync(input));
                    return 0;
                case "help":
                case "--help":
                    Console.WriteLine(Usage);
                    return 0;
                default:
                    throw new UsageException($"Unknown command '{cl.Command}'.");
            }
        }
        catch (UsageException ex)
        {
            await Console.Error.WriteLineAsync("error: " + ex.Message);
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }
    }
}
