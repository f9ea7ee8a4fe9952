using System.Diagnostics;
using Chat.Messaging.Contracts;

namespace Chat.Bench.WebSockets;

/// <summary>The offered load: generations started per second, each streaming its chunks at a token rate.</summary>
public sealed record LoadShape(double GenerationsPerSecond, double TokensPerSecond, int ChunksPerGeneration, int ChunkBytes, TimeSpan Duration, TimeSpan Warmup);

/// <summary>What the driver published; <see cref="GenerationsPerConversation"/> gives the expected deliveries.</summary>
public sealed record DriverResult(
    long Generations,
    long Frames,
    long ChunksInWindow,
    long DeliveriesOwedInWindow,
    double WindowSeconds,
    IReadOnlyDictionary<Guid, long> GenerationsPerConversation);

/// <summary>
/// Starts generations at a fixed rate, round-robin over the conversations, and publishes each one's frames on
/// schedule: started (seq 0) at once, chunk i at i / T seconds, the terminal frame at (n + 1) / T. Every chunk's
/// delta begins with the Stopwatch timestamp taken as the frame is built. After <c>Duration</c> no generation
/// starts; the ones in flight finish, so every generation is complete and the expected deliveries are exact.
/// Each 1 ms tick publishes what is due and awaits it (pipelined), so a slow Redis lowers the offered rate
/// visibly instead of queueing without bound.
/// </summary>
/// <param name="publisher">Where frames go.</param>
/// <param name="conversations">Round-robin targets of new generations.</param>
/// <param name="subscribers">Sockets per conversation: a chunk published is owed to that many sockets.</param>
public sealed class GenerationDriver(IFramePublisher publisher, IReadOnlyList<Guid> conversations, IReadOnlyDictionary<Guid, long> subscribers)
{
    private sealed class Active(Guid conversationId, long startTimestamp)
    {
        public Guid ConversationId { get; } = conversationId;
        public Guid GenerationId { get; } = Guid.CreateVersion7();
        public Guid MessageId { get; } = Guid.CreateVersion7();
        public long StartTimestamp { get; } = startTimestamp;
        public int NextSeq { get; set; }
    }

    /// <param name="shape">The offered load.</param>
    /// <param name="onWindowStart">Called once when the warm-up ends (the measuring window opens).</param>
    /// <param name="onWindowEnd">Called once when <c>Duration</c> is reached (the window closes).</param>
    /// <param name="ct">Stops the run (throws).</param>
    public async Task<DriverResult> RunAsync(LoadShape shape, Action onWindowStart, Action onWindowEnd, CancellationToken ct)
    {
        var filler = new string('x', Math.Max(0, shape.ChunkBytes - 16));
        var terminalSeq = shape.ChunksPerGeneration + 1;
        var ticksPerToken = Stopwatch.Frequency / shape.TokensPerSecond;
        var perConversation = conversations.ToDictionary(c => c, _ => 0L);
        var active = new List<Active>();
        var pending = new List<Task>();
        long generations = 0, frames = 0, chunks = 0, chunksAtWindowStart = 0, chunksAtWindowEnd = 0;
        long owed = 0, owedAtWindowStart = 0, owedAtWindowEnd = 0;
        long windowStart = 0, windowEnd = 0;
        var start = Stopwatch.GetTimestamp();
        var warmupEnd = start + (long)(shape.Warmup.TotalSeconds * Stopwatch.Frequency);
        var deadline = start + (long)(shape.Duration.TotalSeconds * Stopwatch.Frequency);
        var windowOpen = false;
        var windowClosed = false;

        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(1));
        while (true)
        {
            var now = Stopwatch.GetTimestamp();
            if (!windowOpen && now >= warmupEnd)
            {
                windowOpen = true;
                windowStart = now;
                chunksAtWindowStart = chunks;
                owedAtWindowStart = owed;
                onWindowStart();
            }
            if (!windowClosed && now >= deadline)
            {
                windowClosed = true;
                windowEnd = now;
                chunksAtWindowEnd = chunks;
                owedAtWindowEnd = owed;
                onWindowEnd();
            }
            if (!windowClosed)
            {
                var due = (long)((now - start) / (double)Stopwatch.Frequency * shape.GenerationsPerSecond) + 1;
                while (generations < due)
                {
                    var conversation = conversations[(int)(generations % conversations.Count)];
                    active.Add(new Active(conversation, now));
                    perConversation[conversation]++;
                    generations++;
                }
            }
            else if (active.Count == 0)
            {
                break;
            }

            for (var i = active.Count - 1; i >= 0; i--)
            {
                var g = active[i];
                while (g.NextSeq <= terminalSeq && g.StartTimestamp + (long)(g.NextSeq * ticksPerToken) <= now)
                {
                    var frame = BuildFrame(g, terminalSeq, filler);
                    pending.Add(publisher.PublishAsync(frame, frame.ToJson()));
                    frames++;
                    if (frame.Type == FrameTypes.Chunk)
                    {
                        chunks++;
                        owed += subscribers.GetValueOrDefault(g.ConversationId);
                    }
                    g.NextSeq++;
                }
                if (g.NextSeq > terminalSeq)
                {
                    active.RemoveAt(i);
                }
            }
            if (pending.Count > 0)
            {
                await Task.WhenAll(pending);
                pending.Clear();
            }
            await timer.WaitForNextTickAsync(ct);
        }

        return new DriverResult(generations, frames, chunksAtWindowEnd - chunksAtWindowStart, owedAtWindowEnd - owedAtWindowStart,
            (windowEnd - windowStart) / (double)Stopwatch.Frequency, perConversation);
    }

    private static GenerationFrame BuildFrame(Active g, int terminalSeq, string filler)
    {
        var seq = g.NextSeq;
        if (seq == 0)
        {
            return new GenerationFrame
            {
                Type = FrameTypes.Started, ConversationId = g.ConversationId, GenerationId = g.GenerationId, Seq = 0,
                MessageId = g.MessageId, Model = "bench", Provider = "bench",
            };
        }
        if (seq == terminalSeq)
        {
            return new GenerationFrame
            {
                Type = FrameTypes.Completed, ConversationId = g.ConversationId, GenerationId = g.GenerationId, Seq = seq,
                MessageId = g.MessageId, FinishReason = "stop", Usage = new FrameUsage(1, terminalSeq - 1, terminalSeq),
            };
        }
        return new GenerationFrame
        {
            Type = FrameTypes.Chunk, ConversationId = g.ConversationId, GenerationId = g.GenerationId, Seq = seq,
            Delta = Stopwatch.GetTimestamp().ToString("X16", System.Globalization.CultureInfo.InvariantCulture) + filler,
        };
    }
}
