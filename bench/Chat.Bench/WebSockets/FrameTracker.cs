using System.Buffers.Text;
using System.Diagnostics;
using System.Text.Json;
using Chat.Bench.Measurement;

namespace Chat.Bench.WebSockets;

/// <summary>What every socket's tracker shares: the frame count of a generation, the latency histogram, the window.</summary>
public sealed class TrackingContext(int framesPerGeneration)
{
    /// <summary>started (seq 0) + chunks (1..n) + terminal (n + 1).</summary>
    public int FramesPerGeneration { get; } = framesPerGeneration;

    public LatencyHistogram Latency { get; } = new();

    /// <summary>Chunks sent before this Stopwatch timestamp (the warm-up) are not timed.</summary>
    public long MeasureFromTimestamp { get; set; } = long.MaxValue;
}

/// <summary>
/// One socket's account of what it received: every (generation, seq) exactly once is the rule, so it counts unique
/// frames, duplicates and frames outside the contract; chunks carry their publish timestamp (16 hex digits of
/// <see cref="Stopwatch.GetTimestamp"/> at the start of <c>delta</c>), which gives publish → receive latency.
/// </summary>
public sealed class FrameTracker(TrackingContext context)
{
    private readonly Dictionary<Guid, ulong[]> _seen = [];
    private readonly Lock _gate = new();
    private long _unique;
    private long _duplicates;
    private long _chunks;
    private long _unexpected;
    private long _errors;

    public TaskCompletionSource Subscribed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long Unique => Interlocked.Read(ref _unique);
    public long Duplicates => Interlocked.Read(ref _duplicates);
    public long Chunks => Interlocked.Read(ref _chunks);
    public long Unexpected => Interlocked.Read(ref _unexpected);
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Forgets everything received (between steps, when nothing is in flight).</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _seen.Clear();
            Interlocked.Exchange(ref _unique, 0);
            Interlocked.Exchange(ref _duplicates, 0);
            Interlocked.Exchange(ref _chunks, 0);
            Interlocked.Exchange(ref _unexpected, 0);
        }
    }

    public void OnFrame(ReadOnlySpan<byte> utf8)
    {
        var received = Stopwatch.GetTimestamp();
        ReadOnlySpan<byte> type = default;
        var generationId = Guid.Empty;
        long seq = -1;
        long sent = 0;
        try
        {
            var reader = new Utf8JsonReader(utf8);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                Interlocked.Increment(ref _unexpected);
                return;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    type = reader.ValueSpan;
                }
                else if (reader.ValueTextEquals("generationId"u8))
                {
                    reader.Read();
                    generationId = reader.GetGuid();
                }
                else if (reader.ValueTextEquals("seq"u8))
                {
                    reader.Read();
                    seq = reader.GetInt64();
                }
                else if (reader.ValueTextEquals("delta"u8))
                {
                    reader.Read();
                    var delta = reader.ValueSpan;
                    if (delta.Length >= 16 && Utf8Parser.TryParse(delta[..16], out long stamp, out _, 'X'))
                    {
                        sent = stamp;
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            Interlocked.Increment(ref _unexpected);
            return;
        }

        if (type.SequenceEqual("subscribed"u8))
        {
            Subscribed.TrySetResult();
            return;
        }
        if (type.SequenceEqual("error"u8))
        {
            Interlocked.Increment(ref _errors);
            Subscribed.TrySetException(new InvalidOperationException("The server answered with an error frame: " + System.Text.Encoding.UTF8.GetString(utf8)));
            return;
        }
        if (generationId == Guid.Empty)
        {
            return; // hello, heartbeat, pong: not generation frames
        }

        if (seq < 0 || seq >= context.FramesPerGeneration)
        {
            Interlocked.Increment(ref _unexpected);
            return;
        }
        lock (_gate)
        {
            if (!_seen.TryGetValue(generationId, out var bits))
            {
                bits = new ulong[(context.FramesPerGeneration + 63) / 64];
                _seen[generationId] = bits;
            }
            var mask = 1UL << (int)(seq % 64);
            ref var word = ref bits[seq / 64];
            if ((word & mask) != 0)
            {
                Interlocked.Increment(ref _duplicates);
                return;
            }
            word |= mask;
            Interlocked.Increment(ref _unique);
        }
        if (type.SequenceEqual("chunk"u8))
        {
            Interlocked.Increment(ref _chunks);
            if (sent >= context.MeasureFromTimestamp)
            {
                context.Latency.RecordElapsed(sent, received);
            }
        }
    }
}
