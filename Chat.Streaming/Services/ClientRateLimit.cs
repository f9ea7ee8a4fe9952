using System.Threading.RateLimiting;

namespace Chat.Streaming.Services;

/// <summary>
/// A connection's limit on client frames: a <see cref="TokenBucketRateLimiter"/> of <c>RateLimitBurst</c> tokens refilled
/// at <c>RateLimitPerSecond</c>, and the streak of frames refused in a row. The bucket is replenished by the frame that
/// asks for a token (<see cref="TokenBucketRateLimiter.TryReplenish"/> adds what the time since the last replenishment
/// earned), not by a timer: with <c>AutoReplenishment</c> every socket would hold a timer firing every period.
/// Touched only by the connection's reader loop.
/// </summary>
public sealed class ClientRateLimit(TokenBucketRateLimiterOptions options) : IDisposable
{
    private readonly TokenBucketRateLimiter _bucket = new(options);

    /// <summary>Frames refused in a row, up to the last one taken.</summary>
    public int Violations { get; private set; }

    /// <summary>The bucket settings for <paramref name="settings"/>, built once per replica (each connection's limiter holds its own copy).</summary>
    public static TokenBucketRateLimiterOptions BucketOptions(StreamingOptions settings) => new()
    {
        TokenLimit = settings.RateLimitBurst,
        TokensPerPeriod = settings.RateLimitPerSecond,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        AutoReplenishment = false,
        QueueLimit = 0,
    };

    /// <summary>Takes a token for one client frame; false (and one more violation) when the bucket is empty.</summary>
    public bool TryTake()
    {
        _bucket.TryReplenish();
        using var lease = _bucket.AttemptAcquire();
        Violations = lease.IsAcquired ? 0 : Violations + 1;
        return lease.IsAcquired;
    }

    public void Dispose() => _bucket.Dispose();
}
