using System.Diagnostics.Metrics;
using Chat.Llm.Generation;

namespace Chat.Llm.Diagnostics;

/// <summary>
/// Operators' view of generations (meter <see cref="GenerationRunner.ActivitySourceName"/>, shown on the dashboard):
/// how many run, how they end, how many were swept after their process died, lease renewals that failed, and frames
/// that had to wait for Redis.
/// </summary>
public sealed class GenerationMetrics
{
    private readonly UpDownCounter<long> _active;
    private readonly Counter<long> _ended;
    private readonly Counter<long> _swept;
    private readonly Counter<long> _renewalsFailed;

    public GenerationMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(GenerationRunner.ActivitySourceName);
        _active = meter.CreateUpDownCounter<long>("chat.generations.active", "{generation}", "Generations this process owns (queued or running).");
        _ended = meter.CreateCounter<long>("chat.generations.ended", "{generation}", "Generations ended, by status (completed, failed, cancelled, interrupted).");
        _swept = meter.CreateCounter<long>("chat.generations.swept", "{generation}", "Generations whose owner stopped renewing them, ended by this process's sweeper.");
        _renewalsFailed = meter.CreateCounter<long>("chat.generation.lease_renewals_failed", "{renewal}", "Lease renewals (one per generation) the database did not take.");
        FramesBuffered = meter.CreateCounter<long>("chat.generation.frames_buffered", "{frame}", "Frames held back because Redis was unreachable, written when it returned.");
    }

    public Counter<long> FramesBuffered { get; }

    internal void Started() => _active.Add(1);

    internal void Released() => _active.Add(-1);

    internal void Ended(GenerationStatus status) =>
        _ended.Add(1, new KeyValuePair<string, object?>("chat.generation.status", StatusName(status)));

    internal void Swept() => _swept.Add(1);

    internal void RenewalsFailed(int count) => _renewalsFailed.Add(count);

    public static string StatusName(GenerationStatus status) => status switch
    {
        GenerationStatus.Completed => "completed",
        GenerationStatus.Failed => "failed",
        GenerationStatus.Cancelled => "cancelled",
        _ => "interrupted",
    };
}
