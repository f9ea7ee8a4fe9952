using System.Text.Json;
using System.Text.Json.Serialization;
using Chat.Bench.Measurement;

namespace Chat.Bench.Reporting;

/// <summary>The machine a result came from (docs/BENCHMARKS.md asks for it next to every table).</summary>
public sealed record MachineInfo(int Cores, double MemoryGiB, string Kernel, string Os, string Runtime)
{
    public static MachineInfo Current()
    {
        var memKb = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        return new MachineInfo(
            Environment.ProcessorCount,
            Math.Round(long.Parse(memKb, System.Globalization.CultureInfo.InvariantCulture) / 1048576.0, 1),
            File.ReadAllText("/proc/sys/kernel/osrelease").Trim(),
            System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription);
    }
}

/// <summary>One step (one offered rate) of the WebSocket fan-out scenario.</summary>
public sealed record WsStepResult(
    double GenerationsPerSecond,
    double OfferedChunksPerSecond,
    double DeliveredChunksPerSecond,
    double DeliveredRatio,
    long Generations,
    long FramesPublished,
    long ExpectedDeliveries,
    long UniqueDeliveries,
    long Lost,
    long Duplicates,
    long Unexpected,
    long ErrorFrames,
    int OpenSockets,
    LatencySummary Latency,
    IReadOnlyList<ProcessUsage> Processes,
    bool Held,
    string? BrokeBecause);

/// <summary>A whole <c>ws</c> / <c>ws-step</c> run: parameters, connect phase, steps.</summary>
public sealed record WsRunResult(
    string Kind,
    string Target,
    string Label,
    DateTimeOffset StartedAt,
    MachineInfo Machine,
    IReadOnlyDictionary<string, string> Parameters,
    int Sockets,
    int Conversations,
    int Connected,
    int ConnectFailures,
    IReadOnlyList<string> ConnectErrors,
    double ConnectsPerSecond,
    LatencySummary ConnectLatency,
    IReadOnlyList<ProcessUsage> ConnectProcesses,
    IReadOnlyDictionary<string, double> RssPerConnectionKiB,
    IReadOnlyList<WsStepResult> Steps,
    WsStepResult? LastHeld);

/// <summary>One operation of the REST or OpenAI scenario at fixed concurrency.</summary>
public sealed record HttpOperationResult(
    string Operation,
    int Concurrency,
    double Seconds,
    long Requests,
    long Succeeded,
    long Failed,
    IReadOnlyDictionary<string, long> StatusCodes,
    double RequestsPerSecond,
    LatencySummary Latency,
    LatencySummary? FirstChunk,
    IReadOnlyList<ProcessUsage> Processes,
    LatencySummary? FirstChunkOverProvider = null);

public sealed record HttpRunResult(
    string Kind,
    string Target,
    string Label,
    DateTimeOffset StartedAt,
    MachineInfo Machine,
    IReadOnlyDictionary<string, string> Parameters,
    IReadOnlyList<HttpOperationResult> Operations);

public static class ResultFiles
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static async Task<string> WriteAsync<T>(string directory, string kind, string target, string label, T result)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"{DateTimeOffset.UtcNow:yyyyMMdd'T'HHmmss}-{kind}-{target}-{label}.json");
        await using var stream = File.Create(path);
        await JsonSerializer.SerializeAsync(stream, result, Json);
        return path;
    }
}
