using Chat.Bench.Infrastructure;

namespace Chat.Bench.Measurement;

/// <summary>
/// A named group of processes whose RSS and CPU are summed (e.g. both chat-streaming replicas). With
/// <see cref="IncludeChildren"/> their children count too, looked up at each sample (PostgreSQL's backends).
/// </summary>
public sealed record SampledGroup(string Label, IReadOnlyList<int> Pids, bool IncludeChildren = false);

/// <summary>RSS and cumulative CPU ticks of every group at one instant.</summary>
public sealed record ProcessSnapshot(DateTimeOffset At, long Timestamp, IReadOnlyDictionary<string, (long RssBytes, long CpuTicks)> Groups);

/// <summary>Per group: RSS before/after a phase, the peak, and CPU cores used during the phase.</summary>
public sealed record ProcessUsage(string Label, int Processes, double RssStartMiB, double RssEndMiB, double RssPeakMiB, double CpuCores);

/// <summary>
/// Samples /proc for the server processes under test. Groups are given as <c>label=pid:N</c>, <c>label=port:N</c>
/// (the process listening there) or <c>label=name:fragment</c> (every process whose command line contains it).
/// </summary>
public sealed class ProcessSampler
{
    private readonly IReadOnlyList<SampledGroup> _groups;
    private readonly Dictionary<string, long> _peakRss = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public ProcessSampler(IReadOnlyList<SampledGroup> groups) => _groups = groups;

    public IReadOnlyList<SampledGroup> Groups => _groups;

    public static SampledGroup Resolve(string spec)
    {
        var eq = spec.IndexOf('=', StringComparison.Ordinal);
        var colon = spec.IndexOf(':', eq + 1);
        if (eq <= 0 || colon < 0)
        {
            throw new Cli.UsageException($"--sample '{spec}': expected label=pid:N, label=port:N or label=name:fragment.");
        }
        var label = spec[..eq];
        var kind = spec[(eq + 1)..colon];
        var value = spec[(colon + 1)..];
        IReadOnlyList<int> pids = kind switch
        {
            "pid" => [int.Parse(value, System.Globalization.CultureInfo.InvariantCulture)],
            "port" => ProcFs.FindListener(int.Parse(value, System.Globalization.CultureInfo.InvariantCulture)) is { } pid ? [pid] : [],
            "name" => ProcFs.FindByCommandLine(value),
            _ => throw new Cli.UsageException($"--sample '{spec}': unknown kind '{kind}'."),
        };
        return new SampledGroup(label, pids);
    }

    public ProcessSnapshot Take()
    {
        var groups = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        foreach (var group in _groups)
        {
            long rss = 0, cpu = 0;
            foreach (var pid in group.IncludeChildren ? [.. group.Pids, .. ProcFs.ChildrenOf(group.Pids)] : group.Pids)
            {
                rss += ProcFs.RssBytes(pid) ?? 0;
                cpu += ProcFs.CpuTicks(pid) ?? 0;
            }
            groups[group.Label] = (rss, cpu);
            lock (_gate)
            {
                _peakRss[group.Label] = Math.Max(_peakRss.GetValueOrDefault(group.Label), rss);
            }
        }
        return new ProcessSnapshot(DateTimeOffset.UtcNow, System.Diagnostics.Stopwatch.GetTimestamp(), groups);
    }

    /// <summary>Samples once a second (tracking peak RSS) until <paramref name="ct"/> fires; returns normally then.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                Take();
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    public void ResetPeaks()
    {
        lock (_gate)
        {
            _peakRss.Clear();
        }
    }

    public IReadOnlyList<ProcessUsage> Between(ProcessSnapshot start, ProcessSnapshot end)
    {
        var seconds = (end.Timestamp - start.Timestamp) / (double)System.Diagnostics.Stopwatch.Frequency;
        var result = new List<ProcessUsage>();
        foreach (var group in _groups)
        {
            var (rss0, cpu0) = start.Groups[group.Label];
            var (rss1, cpu1) = end.Groups[group.Label];
            long peak;
            lock (_gate)
            {
                peak = Math.Max(_peakRss.GetValueOrDefault(group.Label), Math.Max(rss0, rss1));
            }
            result.Add(new ProcessUsage(group.Label, group.Pids.Count, Mib(rss0), Mib(rss1), Mib(peak),
                seconds > 0 ? Math.Round((cpu1 - cpu0) / ProcFs.ClockTicksPerSecond / seconds, 3) : 0));
        }
        return result;
    }

    private static double Mib(long bytes) => Math.Round(bytes / 1048576.0, 1);
}
