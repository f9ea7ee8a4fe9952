using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Chat.Bench.Reporting;

/// <summary>
/// Turns a directory of result files into the Markdown tables of docs/BENCHMARKS.md: one row per (label, target)
/// with the median of its repetitions, then the ratios between targets of the same label. A <c>ws-step</c> run
/// contributes its last step that held; a <c>ws</c> run its one step.
/// </summary>
public static class Report
{
    public static async Task<string> BuildAsync(string directory)
    {
        var ws = new List<WsRunResult>();
        var http = new List<HttpRunResult>();
        foreach (var file in Directory.EnumerateFiles(directory, "*.json").Order(StringComparer.Ordinal))
        {
            await using var stream = File.OpenRead(file);
            using var document = await JsonDocument.ParseAsync(stream);
            var kind = document.RootElement.GetProperty("kind").GetString();
            if (kind is "ws" or "ws-step")
            {
                ws.Add(document.Deserialize<WsRunResult>(ResultFiles.Json)!);
            }
            else
            {
                http.Add(document.Deserialize<HttpRunResult>(ResultFiles.Json)!);
            }
        }

        var md = new StringBuilder();
        var machine = ws.Select(r => r.Machine).Concat(http.Select(r => r.Machine)).FirstOrDefault();
        if (machine is not null)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {machine.Cores} cores, {machine.MemoryGiB} GiB, Linux {machine.Kernel}, {machine.Runtime}. Medians of the runs counted in `runs`, (min–max) where there are several.");
            md.AppendLine();
        }
        AppendWebSockets(md, ws);
        AppendHttp(md, http);
        return md.ToString();
    }

    private static void AppendWebSockets(StringBuilder md, List<WsRunResult> runs)
    {
        if (runs.Count == 0)
        {
            return;
        }
        md.AppendLine("### WebSocket fan-out");
        md.AppendLine();
        md.AppendLine("| label | target | runs | sockets | per conv. | chunk B | gen/s | delivered chunks/s | p50 ms | p99 ms | p99.9 ms | lost | dup | connects/s | RSS/conn KiB | CPU cores |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        var rows = new Dictionary<(string Label, string Target), (double Delivered, double P99)>();
        foreach (var group in runs.GroupBy(r => (r.Label, r.Target)).OrderBy(g => g.Key.Label, StringComparer.Ordinal).ThenBy(g => g.Key.Target, StringComparer.Ordinal))
        {
            // A run that did not connect every socket measured something else: counted apart, not in the medians.
            var incomplete = group.Count(r => r.Connected < r.Sockets);
            var steps = group.Where(r => r.Connected == r.Sockets)
                .Select(r => r.Kind == "ws-step" ? r.LastHeld : (r.Steps.Count > 0 ? r.Steps[0] : null)).OfType<WsStepResult>().ToList();
            var runsText = incomplete > 0 ? $"{steps.Count} (+{incomplete} incomplete)" : steps.Count.ToString(CultureInfo.InvariantCulture);
            if (steps.Count == 0)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {group.Key.Label} | {group.Key.Target} | {runsText} | no complete run with a step that held | | | | | | | | | | | | |");
                continue;
            }
            var first = group.FirstOrDefault(r => r.Connected == r.Sockets) ?? group.First();
            var delivered = Median(steps.Select(s => s.DeliveredChunksPerSecond));
            var p99 = Median(steps.Select(s => s.Latency.P99Ms));
            rows[group.Key] = (delivered, p99);
            var rss = string.Join(", ", group.SelectMany(r => r.RssPerConnectionKiB).GroupBy(kv => kv.Key).Select(g => $"{g.Key} {Median(g.Select(kv => kv.Value)):0.#}"));
            var cpu = string.Join(", ", steps.SelectMany(s => s.Processes).GroupBy(p => p.Label).Select(g => $"{g.Key} {Median(g.Select(p => p.CpuCores)):0.00}"));
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Key.Label} | {group.Key.Target} | {runsText} | {first.Sockets} | {first.Parameters.GetValueOrDefault("perConversation")} | {first.Parameters.GetValueOrDefault("chunkBytes")} | " +
                $"{Median(steps.Select(s => s.GenerationsPerSecond)):0.##} | {delivered:0}{Spread(steps.Select(s => s.DeliveredChunksPerSecond))} | {Median(steps.Select(s => s.Latency.P50Ms)):0.###} | {p99:0.###} | " +
                $"{Median(steps.Select(s => s.Latency.P999Ms)):0.###} | {steps.Sum(s => s.Lost)} | {steps.Sum(s => s.Duplicates)} | " +
                $"{Median(group.Select(r => r.ConnectsPerSecond)):0} | {rss} | {cpu} |");
        }
        md.AppendLine();
        md.AppendLine("| label | Chat via | Chat / raw delivered | Chat / raw (PUBLISH only) delivered | Chat / SignalR delivered | Chat p99 − raw p99 (ms) |");
        md.AppendLine("|---|---|---|---|---|---|");
        foreach (var ((label, target), chat) in rows.Where(kv => kv.Key.Target.StartsWith("chat", StringComparison.Ordinal))
                     .OrderBy(kv => kv.Key.Label, StringComparer.Ordinal).ThenBy(kv => kv.Key.Target, StringComparer.Ordinal))
        {
            var via = target == "chat-direct" ? "one replica" : "gateway";
            var raw = rows.TryGetValue((label, "raw"), out var r) ? r : default((double Delivered, double P99)?);
            var publishOnly = rows.TryGetValue((label, "raw-publish"), out var q) ? q : default((double Delivered, double P99)?);
            var peer = rows.TryGetValue((label, "signalr"), out var p) ? p : default((double Delivered, double P99)?);
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {label} | {via} | {(raw is { } a ? (chat.Delivered / a.Delivered).ToString("0.00", CultureInfo.InvariantCulture) : "–")} | " +
                $"{(publishOnly is { } d ? (chat.Delivered / d.Delivered).ToString("0.00", CultureInfo.InvariantCulture) : "–")} | " +
                $"{(peer is { } b ? (chat.Delivered / b.Delivered).ToString("0.00", CultureInfo.InvariantCulture) : "–")} | " +
                $"{(raw is { } c ? (chat.P99 - c.P99).ToString("0.###", CultureInfo.InvariantCulture) : "–")} |");
        }
        md.AppendLine();
    }

    private static void AppendHttp(StringBuilder md, List<HttpRunResult> runs)
    {
        if (runs.Count == 0)
        {
            return;
        }
        md.AppendLine("### REST and OpenAI-compatible");
        md.AppendLine();
        md.AppendLine("| label | target | operation | runs | concurrency | ok req/s | p50 ms | p99 ms | failed | first chunk p50 ms | first chunk p99 ms | over the provider's TTFT, p50 ms |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        var rates = new Dictionary<(string Label, string Target, string Operation), double>();
        foreach (var group in runs.SelectMany(r => r.Operations.Select(o => (Run: r, Op: o)))
                     .GroupBy(x => (x.Run.Label, Target: Display(x.Run), x.Op.Operation))
                     .OrderBy(g => g.Key.Label, StringComparer.Ordinal).ThenBy(g => g.Key.Target, StringComparer.Ordinal))
        {
            var ops = group.Select(x => x.Op).ToList();
            var rps = Median(ops.Select(o => o.RequestsPerSecond));
            rates[(group.Key.Label, group.Key.Target, group.Key.Operation)] = rps;
            var firstChunks = ops.Select(o => o.FirstChunk).OfType<Measurement.LatencySummary>().ToList();
            var overProvider = ops.Select(o => o.FirstChunkOverProvider).OfType<Measurement.LatencySummary>().ToList();
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Key.Label} | {group.Key.Target} | {group.Key.Operation} | {ops.Count} | {ops[0].Concurrency} | {rps:0.0}{Spread(ops.Select(o => o.RequestsPerSecond))} | " +
                $"{Median(ops.Select(o => o.Latency.P50Ms)):0.###} | {Median(ops.Select(o => o.Latency.P99Ms)):0.###} | {ops.Sum(o => o.Failed)} | " +
                $"{(firstChunks.Count > 0 ? Median(firstChunks.Select(f => f.P50Ms)).ToString("0.###", CultureInfo.InvariantCulture) : "–")} | " +
                $"{(firstChunks.Count > 0 ? Median(firstChunks.Select(f => f.P99Ms)).ToString("0.###", CultureInfo.InvariantCulture) : "–")} | " +
                $"{(overProvider.Count > 0 ? OverProvider(overProvider) : "–")} |");
        }
        md.AppendLine();
        var baselines = rates.Where(kv => kv.Key.Target == "baseline" && kv.Key.Operation == "pk-select").ToDictionary(kv => kv.Key.Label, kv => kv.Value);
        var pages = rates.Where(kv => kv.Key.Target == "baseline" && kv.Key.Operation == "page-select").ToDictionary(kv => kv.Key.Label, kv => kv.Value);
        if (baselines.Count > 0)
        {
            // The history page is also set against the page floor: the same rows and JSON without Chat.
            md.AppendLine("| label | chat operation | chat / bare Kestrel + Npgsql PK SELECT req/s | history / bare page (same SQL and JSON) |");
            md.AppendLine("|---|---|---|---|");
            foreach (var ((label, target, op), rps) in rates.Where(kv => kv.Key.Target != "baseline").OrderBy(kv => kv.Key.Label, StringComparer.Ordinal))
            {
                if (baselines.TryGetValue(label, out var floor) && floor > 0)
                {
                    var page = op == "history" && pages.TryGetValue(label, out var p) && p > 0
                        ? (rps / p).ToString("0.00", CultureInfo.InvariantCulture) : "–";
                    md.AppendLine(CultureInfo.InvariantCulture, $"| {label} | {op} ({target}) | {rps / floor:0.00} | {page} |");
                }
            }
            md.AppendLine();
        }
    }

    /// <summary>Chat rows name the URL they drove (gateway or chat-api); a baseline's URL is a random port.</summary>
    private static string Display(HttpRunResult run) =>
        run.Target == "baseline" ? "baseline"
        : run.Parameters.TryGetValue("url", out var url) ? $"{run.Target} via {new Uri(url).Authority}" : run.Target;

    /// <summary>" (min–max)" when there is more than one run: how noisy the repetitions were.</summary>
    /// <summary>The median p50 over the provider's TTFT, with the runs' range when there are several (to 0.01 ms).</summary>
    private static string OverProvider(IReadOnlyList<Measurement.LatencySummary> runs)
    {
        var p50s = runs.Select(r => r.P50Ms).Where(v => !double.IsNaN(v)).ToList();
        var median = Median(p50s).ToString("0.00", CultureInfo.InvariantCulture);
        return p50s.Count < 2 ? median : string.Create(CultureInfo.InvariantCulture, $"{median} ({p50s.Min():0.00}–{p50s.Max():0.00})");
    }

    private static string Spread(IEnumerable<double> values)
    {
        var list = values.Where(v => !double.IsNaN(v)).ToList();
        return list.Count < 2 ? "" : string.Create(CultureInfo.InvariantCulture, $" ({list.Min():0}–{list.Max():0})");
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToList();
        if (sorted.Count == 0)
        {
            return double.NaN;
        }
        var mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
