namespace Chat.Bench.Measurement;

/// <summary>
/// A log-linear histogram of microsecond values in the manner of HdrHistogram: exact below 256 µs, then 128
/// sub-buckets per power of two (under 0.8 % relative error) up to about 2^40 µs. Recording is lock-free and
/// thread-safe; reading while recording gives a consistent-enough snapshot for a report.
/// </summary>
public sealed class LatencyHistogram
{
    private const int SubBucketBits = 7;
    private const int SubBuckets = 1 << SubBucketBits;      // 128
    private const int LinearLimit = SubBuckets * 2;         // values below this are their own bucket
    private const int MaxMagnitude = 40;
    private readonly long[] _counts = new long[LinearLimit + ((MaxMagnitude - SubBucketBits) * SubBuckets)];
    private long _total;
    private long _max;

    public long Count => Interlocked.Read(ref _total);

    public void RecordMicroseconds(long value)
    {
        value = Math.Max(0, value);
        Interlocked.Increment(ref _counts[IndexOf(value)]);
        Interlocked.Increment(ref _total);
        long seen;
        while (value > (seen = Interlocked.Read(ref _max)) && Interlocked.CompareExchange(ref _max, value, seen) != seen)
        {
        }
    }

    public void RecordElapsed(long startTimestamp, long endTimestamp) =>
        RecordMicroseconds((long)((endTimestamp - startTimestamp) * 1_000_000.0 / System.Diagnostics.Stopwatch.Frequency));

    /// <summary>The value at a percentile (0..100) in milliseconds, as the upper edge of its bucket; NaN when empty.</summary>
    public double PercentileMs(double percentile)
    {
        var total = Count;
        if (total == 0)
        {
            return double.NaN;
        }
        var rank = Math.Max(1, (long)Math.Ceiling(total * percentile / 100.0));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += Interlocked.Read(ref _counts[i]);
            if (seen >= rank)
            {
                return Math.Min(UpperEdgeOf(i), Interlocked.Read(ref _max)) / 1000.0;
            }
        }
        return Interlocked.Read(ref _max) / 1000.0;
    }

    public double MaxMs => Count == 0 ? double.NaN : Interlocked.Read(ref _max) / 1000.0;

    public LatencySummary Summarize() =>
        new(Count, PercentileMs(50), PercentileMs(90), PercentileMs(99), PercentileMs(99.9), MaxMs);

    public void Reset()
    {
        Array.Clear(_counts);
        Interlocked.Exchange(ref _total, 0);
        Interlocked.Exchange(ref _max, 0);
    }

    internal static int IndexOf(long value)
    {
        if (value < LinearLimit)
        {
            return (int)value;
        }
        var magnitude = (int)Math.Min(63 - long.LeadingZeroCount(value), MaxMagnitude);
        if (magnitude >= MaxMagnitude)
        {
            return (LinearLimit + ((MaxMagnitude - SubBucketBits) * SubBuckets)) - 1;
        }
        var shift = magnitude - SubBucketBits;
        var top = (int)(value >> shift); // 128..255
        return LinearLimit + ((magnitude - SubBucketBits - 1) * SubBuckets) + (top - SubBuckets);
    }

    internal static long UpperEdgeOf(int index)
    {
        if (index < LinearLimit)
        {
            return index;
        }
        var offset = index - LinearLimit;
        var magnitude = (offset / SubBuckets) + SubBucketBits + 1;
        var top = (offset % SubBuckets) + SubBuckets;
        var shift = magnitude - SubBucketBits;
        return ((long)(top + 1) << shift) - 1;
    }
}

/// <summary>Count and percentiles in milliseconds.</summary>
public sealed record LatencySummary(long Count, double P50Ms, double P90Ms, double P99Ms, double P999Ms, double MaxMs)
{
    public override string ToString() =>
        Count == 0 ? "n=0" : $"n={Count} p50={P50Ms:0.###}ms p90={P90Ms:0.###}ms p99={P99Ms:0.###}ms p99.9={P999Ms:0.###}ms max={MaxMs:0.###}ms";
}
