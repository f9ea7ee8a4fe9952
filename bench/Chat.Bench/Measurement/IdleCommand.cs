using Chat.Bench.Infrastructure;

namespace Chat.Bench.Measurement;

/// <summary>
/// <c>idle</c>: RSS and CPU of every Chat service process with no load, sampled for a while — the "each service
/// idles under 100 MB" target. Reports each process on its own (a replica is a service instance).
/// </summary>
public static class IdleCommand
{
    public static async Task<int> RunAsync(TimeSpan duration, string dataDirectory, CancellationToken ct)
    {
        var root = BaselineServer.RepositoryRoot();
        var services = new[] { "Chat.Gateway", "Chat.Api", "Chat.Streaming", "Chat.MigrationService" };
        var groups = new List<SampledGroup>();
        foreach (var service in services)
        {
            var pids = ProcFs.FindByCommandLine($"{Path.Combine(root, service, "bin")}/");
            groups.AddRange(pids.Select((pid, i) => new SampledGroup(pids.Count > 1 ? $"{service}#{i + 1}" : service, [pid])));
        }
        TryAdd(groups, "redis", () => ChatLocalInfrastructure.FindRedis(dataDirectory).Pid);
        TryAdd(groups, "postgres", () => ChatLocalInfrastructure.FindPostgres(dataDirectory).Pid, children: true);
        if (groups.Count == 0)
        {
            Console.WriteLine($"No Chat process found under {root}: start it with ./run.sh first.");
            return 1;
        }
        var sampler = new ProcessSampler(groups);
        var start = sampler.Take();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stop.CancelAfter(duration);
        await sampler.RunAsync(stop.Token);
        var usage = sampler.Between(start, sampler.Take());
        Console.WriteLine($"| process | pid | RSS MiB (end) | RSS MiB (peak) | CPU cores (idle, {duration.TotalSeconds:0}s) |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var u in usage)
        {
            var pids = string.Join(' ', groups.First(g => g.Label == u.Label).Pids);
            Console.WriteLine($"| {u.Label} | {pids} | {u.RssEndMiB} | {u.RssPeakMiB} | {u.CpuCores:0.000} |");
        }
        return 0;
    }

    private static void TryAdd(List<SampledGroup> groups, string label, Func<int> find, bool children = false)
    {
        try
        {
            groups.Add(new SampledGroup(label, [find()], children));
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException)
        {
            Console.WriteLine($"{label} not sampled: {ex.Message}");
        }
    }
}
