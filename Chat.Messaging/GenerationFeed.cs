using System.Collections.Concurrent;
using System.Threading.Channels;
using Chat.Messaging.Contracts;

namespace Chat.Messaging;

/// <summary>
/// Hands a generation's frames to a follower in the same process as the runner produces them: the request that starts
/// a generation and streams it (SSE) reads its frames from here, without a Redis SUBSCRIBE, replay read and pub/sub
/// hop. Every frame is still written to Redis (<see cref="GenerationFramePublisher"/>) for every other follower — the
/// streaming tier's sockets, a resume with <c>Last-Event-ID</c>, another replica.
/// </summary>
/// <remarks>
/// A follower is opened before its generation is queued, so it misses no frame; it is removed when it is disposed or
/// its generation's terminal frame is delivered. Generations nobody follows here cost one dictionary lookup per frame.
/// </remarks>
/// <param name="capacity">Frames a follower may fall behind by before the oldest are dropped here (the reader reads them
/// back from Redis).</param>
public sealed class GenerationFeed(int capacity = GenerationFeed.DefaultCapacity)
{
    public const int DefaultCapacity = 10_000;

    private readonly ConcurrentDictionary<Guid, Follower> _followers = new();

    /// <summary>Starts following <paramref name="generationId"/>; one follower per generation.</summary>
    public Follower Open(Guid generationId)
    {
        var follower = new Follower(this, generationId, capacity);
        if (!_followers.TryAdd(generationId, follower))
        {
            throw new InvalidOperationException($"Generation {generationId} already has a follower in this process.");
        }

        return follower;
    }

    /// <summary>Gives <paramref name="frame"/> to its generation's follower, if it has one here. Never waits; a follower waiting for
    /// a frame goes on on the caller's thread up to its next await.</summary>
    public void Deliver(GenerationFrame frame)
    {
        if (_followers.IsEmpty || !_followers.TryGetValue(frame.GenerationId, out var follower))
        {
            return;
        }

        follower.Frames.Writer.TryWrite(frame);
        if (frame.IsTerminal)
        {
            follower.Frames.Writer.TryComplete();
            _followers.TryRemove(KeyValuePair.Create(frame.GenerationId, follower));
        }
    }

    /// <summary>One generation's frames, in seq order, as the runner produced them.</summary>
    public sealed class Follower : IDisposable
    {
        private readonly GenerationFeed _feed;

        internal Follower(GenerationFeed feed, Guid generationId, int capacity)
        {
            _feed = feed;
            GenerationId = generationId;
            // Written by one runner, read by one request; a reader that lags by the capacity loses the oldest frames
            // from here and reads them back from the replay stream (GenerationStreamReader). A waiting reader resumes
            // on the runner's thread, up to its next await (writing the frame to its response), saving a thread hop.
            Frames = Channel.CreateBounded<GenerationFrame>(new BoundedChannelOptions(capacity)
            {
                FullMode = BoundedChannelFullMode.DropOldest,
                SingleReader = true,
                SingleWriter = true,
                AllowSynchronousContinuations = true,
            });
        }

        public Guid GenerationId { get; }

        internal Channel<GenerationFrame> Frames { get; }

        public void Dispose()
        {
            Frames.Writer.TryComplete();
            _feed._followers.TryRemove(KeyValuePair.Create(GenerationId, this));
        }
    }
}
