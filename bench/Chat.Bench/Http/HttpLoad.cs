using System.Diagnostics;
using System.Globalization;
using Chat.Bench.Measurement;
using Chat.Bench.Reporting;

namespace Chat.Bench.Http;

/// <summary>What one request of an operation produced: its status and, for streams, when the first chunk came.</summary>
public readonly record struct RequestOutcome(int StatusCode, bool Succeeded, long FirstChunkTimestamp = 0);

/// <summary>
/// A closed loop at fixed concurrency: <c>concurrency</c> workers each send a request, wait for the whole response,
/// and send the next, for a warm-up (not recorded) and then the measured duration. A request in flight when time
/// is up finishes (bounded by the client's timeout) and is counted.
/// </summary>
public static class HttpLoad
{
    public delegate Task<RequestOutcome> Operation(int worker, CancellationToken ct);

    public static async Task<HttpOperationResult> RunAsync(
        string name, int concurrency, TimeSpan warmup, TimeSpan duration, Operation operation, ProcessSampler sampler, CancellationToken ct,
        double? providerFirstTokenMs = null)
    {
        await LoopAsync(concurrency, warmup, operation, null, ct);

        var recorder = new Recorder(providerFirstTokenMs is { } ms ? (long)Math.Round(ms * 1000) : null);
        var before = sampler.Take();
        var started = Stopwatch.GetTimestamp();
        await LoopAsync(concurrency, duration, operation, recorder, ct);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var after = sampler.Take();

        var result = new HttpOperationResult(name, concurrency, Math.Round(seconds, 2), recorder.Requests, recorder.Succeeded,
            recorder.Requests - recorder.Succeeded,
            recorder.StatusCodes.ToDictionary(kv => kv.Key.ToString(CultureInfo.InvariantCulture), kv => kv.Value),
            Math.Round(recorder.Succeeded / seconds, 1), recorder.Latency.Summarize(),
            recorder.FirstChunk.Count > 0 ? recorder.FirstChunk.Summarize() : null,
            sampler.Between(before, after),
            recorder.FirstChunkOver.Count == 0 ? null : recorder.FirstChunkOver.Summarize());
        Console.WriteLine($"{name} ×{concurrency}: {result.RequestsPerSecond:0.0} ok/s, failed {result.Failed} " +
            $"[{string.Join(' ', result.StatusCodes.Select(kv => kv.Key + ":" + kv.Value))}], latency {result.Latency}" +
            (result.FirstChunk is { } fc ? $", first chunk {fc}" : ""));
        foreach (var p in result.Processes)
        {
            Console.WriteLine($"  {p.Label}: CPU {p.CpuCores:0.00} cores, RSS {p.RssEndMiB} MiB");
        }
        if (result.StatusCodes.ContainsKey("429"))
        {
            Console.WriteLine("  note: 429 = rate limited; raise the gateway's limits (see docs/BENCHMARKS.md) or measure chat-api directly.");
        }
        return result;
    }

    private static async Task LoopAsync(int concurrency, TimeSpan length, Operation operation, Recorder? recorder, CancellationToken ct)
    {
        if (length <= TimeSpan.Zero)
        {
            return;
        }
        var deadline = Stopwatch.GetTimestamp() + (long)(length.TotalSeconds * Stopwatch.Frequency);
        await Parallel.ForEachAsync(Enumerable.Range(0, concurrency),
            new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct },
            async (worker, token) =>
            {
                while (Stopwatch.GetTimestamp() < deadline)
                {
                    var start = Stopwatch.GetTimestamp();
                    RequestOutcome outcome;
                    try
                    {
                        outcome = await operation(worker, token);
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !token.IsCancellationRequested)
                    {
                        outcome = new RequestOutcome(0, false);
                    }
                    recorder?.Record(start, Stopwatch.GetTimestamp(), outcome);
                }
            });
    }

    /// <param name="providerFirstTokenMicroseconds">When given, subtracted from each time to first chunk into <see cref="FirstChunkOver"/>:
    /// what the server adds, at the histogram's resolution for a few milliseconds (16 µs) rather than for the whole.</param>
    private sealed class Recorder(long? providerFirstTokenMicroseconds)
    {
        private long _requests;
        private long _succeeded;

        public LatencyHistogram Latency { get; } = new();
        public LatencyHistogram FirstChunk { get; } = new();
        public LatencyHistogram FirstChunkOver { get; } = new();
        public System.Collections.Concurrent.ConcurrentDictionary<int, long> StatusCodes { get; } = new();
        public long Requests => Interlocked.Read(ref _requests);
        public long Succeeded => Interlocked.Read(ref _succeeded);

        public void Record(long start, long end, RequestOutcome outcome)
        {
            Interlocked.Increment(ref _requests);
            StatusCodes.AddOrUpdate(outcome.StatusCode, 1, (_, n) => n + 1);
            if (!outcome.Succeeded)
            {
                return;
            }
            Interlocked.Increment(ref _succeeded);
            Latency.RecordElapsed(start, end);
            if (outcome.FirstChunkTimestamp != 0)
            {
                FirstChunk.RecordElapsed(start, outcome.FirstChunkTimestamp);
                if (providerFirstTokenMicroseconds is { } provider)
                {
                    var micros = (long)((outcome.FirstChunkTimestamp - start) * 1_000_000.0 / Stopwatch.Frequency);
                    FirstChunkOver.RecordMicroseconds(micros - provider);
                }
            }
        }
    }
}
