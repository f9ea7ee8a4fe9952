using Chat.Messaging;
using Chat.Messaging.Contracts;
using Chat.Streaming.Protocol;
using Chat.Streaming.Services;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Chat.Streaming.Infrastructure;

/// <summary>
/// The replica's Redis side. One pub/sub subscription per conversation that has local subscribers (no pattern
/// subscriptions), shared by every local socket and dropped when the last one leaves. Frames are parsed once, checked
/// for gaps and duplicates per generation (a gap — pub/sub is at-most-once — is filled from the generation's stream),
/// and handed to each local <see cref="Subscription"/>, which never blocks. When the subscription connection to Redis
/// is lost, the sockets are told, and once it is back every conversation is caught up from the streams
/// (ConversationHub.Restore.cs).
/// </summary>
public sealed partial class ConversationHub : IAsyncDisposable
{
    private const int MaxTrackedGenerations = 256;
    private const int MaxRecentlyFinished = 64;

    private readonly IConnectionMultiplexer _redis;
    private readonly StreamingTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly ILogger<ConversationHub> _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, Topic> _topics = [];

    public ConversationHub(IConnectionMultiplexer redis, StreamingTelemetry telemetry, IOptions<StreamingOptions> options,
        TimeProvider time, ILogger<ConversationHub> logger)
    {
        _redis = redis;
        _telemetry = telemetry;
        _time = time;
        _logger = logger;
        _restoreGrace = options.Value.RedisRestoreGrace;
        _redis.ConnectionFailed += OnConnectionFailed;
        _redis.ConnectionRestored += OnConnectionRestored;
    }

    /// <summary>Conversations this replica currently subscribes to in Redis.</summary>
    public int TopicCount
    {
        get
        {
            lock (_gate)
            {
                return _topics.Count;
            }
        }
    }

    /// <summary>Adds a local subscriber; completes once Redis has confirmed the channel subscription.</summary>
    public async Task AttachAsync(Subscription subscription, CancellationToken cancellationToken)
    {
        Topic topic;
        lock (_gate)
        {
            if (!_topics.TryGetValue(subscription.ConversationId, out topic!))
            {
                topic = new Topic(subscription.ConversationId);
                _topics.Add(topic.ConversationId, topic);
                topic.Ready = SubscribeAsync(topic);
            }
            lock (topic.Gate)
            {
                topic.Subscribers = [.. topic.Subscribers, subscription];
                if (topic.Interrupted)
                {
                    // Joining mid-outage: told like the others, and told again when the topic is restored.
                    subscription.Notify(InterruptedFrame(topic));
                }
            }
        }
        await topic.Ready.WaitAsync(cancellationToken);
    }

    /// <summary>Removes a local subscriber; the last one out unsubscribes the replica from the channel.</summary>
    public async Task DetachAsync(Subscription subscription)
    {
        subscription.Close();
        Topic? emptied = null;
        lock (_gate)
        {
            if (_topics.TryGetValue(subscription.ConversationId, out var topic))
            {
                topic.Subscribers = [.. topic.Subscribers.Where(s => !ReferenceEquals(s, subscription))];
                if (topic.Subscribers.Length == 0)
                {
                    _topics.Remove(topic.ConversationId);
                    emptied = topic;
                }
            }
        }
        if (emptied is null)
        {
            return;
        }
        try
        {
            await emptied.Ready;
            if (emptied.Queue is { } queue)
            {
                await queue.UnsubscribeAsync();
                _telemetry.RedisSubscriptions.Add(-1);
                StreamingLog.ChannelUnsubscribed(_logger, emptied.ConversationId);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // The connection is gone; so is the subscription.
        }
    }

    /// <summary>Reads a generation's frames after <paramref name="after"/> from its replay stream; null when the stream is gone.</summary>
    public async Task<IReadOnlyList<LiveFrame>?> ReadReplayAsync(Guid conversationId, Guid generationId, long after)
    {
        var db = _redis.GetDatabase();
        var key = RedisKeys.GenerationStream(generationId);
        var entries = await db.StreamRangeAsync(key, GenerationStreamSettings.RangeStartAfter(after), "+");
        if (entries.Length == 0)
        {
            // Empty: either nothing new yet (the stream exists) or the replay window has passed.
            return await db.KeyExistsAsync(key) ? [] : null;
        }
        var frames = new List<LiveFrame>(entries.Length);
        foreach (var entry in entries)
        {
            if (Parse((byte[]?)entry[GenerationStreamSettings.FrameField]) is not { } frame)
            {
                StreamingLog.MalformedRedisFrame(_logger, conversationId);
                continue;
            }
            if (frame.ConversationId != conversationId || frame.GenerationId != generationId)
            {
                return null; // not this conversation's generation: reveal nothing
            }
            frames.Add(frame);
        }
        return frames;
    }

    private async Task SubscribeAsync(Topic topic)
    {
        var queue = await _redis.GetSubscriber().SubscribeAsync(RedisKeys.ConversationChannel(topic.ConversationId));
        topic.Queue = queue;
        _telemetry.RedisSubscriptions.Add(1);
        StreamingLog.ChannelSubscribed(_logger, topic.ConversationId);
        // The queue hands messages over one at a time, in publication order, awaiting each handler. Its loop belongs to
        // the replica, not to the socket whose subscribe opened the topic, so it starts without that socket's execution
        // context: otherwise it would run every later frame (and any gap-filling Redis read) inside that socket's
        // subscribe span, ended long ago, and keep the span and its tags alive for as long as the topic lives.
        using (ExecutionContext.SuppressFlow())
        {
            queue.OnMessage(message => OnMessageAsync(topic, message));
        }
    }

    private Task OnMessageAsync(Topic topic, ChannelMessage message)
    {
        // The published bytes are parsed for their header only and forwarded as they are. No span per frame: at
        // thousands of frames a second an Activity each was the largest allocation of the fan-out (dotnet-trace,
        // docs/BENCHMARKS.md); frames are counted by the chat.streaming.* metrics, and a generation is traced in Chat.Api.
        if (Parse((byte[]?)message.Message) is not { } frame || frame.ConversationId != topic.ConversationId)
        {
            StreamingLog.MalformedRedisFrame(_logger, topic.ConversationId);
            return Task.CompletedTask;
        }

        long? fillAfter;
        // Uncontended in steady state: the queue runs this handler for one message at a time, and the only other taker
        // is a restore after Redis came back (and a socket joining during an outage). An uncontended Lock is one
        // interlocked exchange each way, and no allocation.
        lock (topic.Gate)
        {
            fillAfter = AdmitLocked(topic, frame);
        }
        return fillAfter is { } after ? FillAsync(topic, frame, after) : Task.CompletedTask;
    }

    /// <summary>
    /// Delivers a live frame that is the next one of its generation (or the first seen of it) and drops a duplicate.
    /// When frames are missing before it, returns the seq after which they must first be read from the stream (-1: the
    /// generation appeared after an outage without its start, so from the start); the frame then waits for that read.
    /// </summary>
    private long? AdmitLocked(Topic topic, LiveFrame frame)
    {
        if (topic.LastSeq.TryGetValue(frame.GenerationId, out var last))
        {
            if (frame.Seq <= last)
            {
                return null; // duplicate publication
            }
            if (frame.Seq > last + 1 || (topic.Missing is { Count: > 0 } missing && missing.Contains(frame.GenerationId)))
            {
                return last;
            }
        }
        else
        {
            // The first frame of a generation: once per generation, not per frame.
            if (topic.RecentlyFinished?.Contains(frame.GenerationId) == true)
            {
                return null; // a late duplicate of a generation already delivered to its end
            }
            if (frame.Seq > 0 && topic.FillFromStartUntil != 0 && _time.GetTimestamp() < topic.FillFromStartUntil)
            {
                return -1;
            }
        }
        DeliverLocked(topic, frame);
        return null;
    }

    /// <summary>Reads what <paramref name="live"/> is missing from its stream, delivers it, then the live frame itself.</summary>
    private async Task FillAsync(Topic topic, LiveFrame live, long after)
    {
        StreamingLog.GapDetected(_logger, live.GenerationId, live.ConversationId, after + 1, live.Seq);
        IReadOnlyList<LiveFrame>? stored = null;
        try
        {
            stored = await ReadReplayAsync(topic.ConversationId, live.GenerationId, after);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            StreamingLog.ReplayFailed(_logger, ex, live.GenerationId);
        }
        lock (topic.Gate)
        {
            if (stored is not null)
            {
                CatchUpLocked(topic, live.GenerationId, stored);
            }
            else if (topic.Interrupted)
            {
                // Mid-restore the stream may be about to be re-created: hold the frame back rather than open a hole the
                // client could never fill; the restore retries the stream and names the generation if it never comes.
                (topic.Missing ??= []).Add(live.GenerationId);
                return;
            }
            if (!topic.LastSeq.TryGetValue(live.GenerationId, out var last) || live.Seq > last)
            {
                DeliverLocked(topic, live);
            }
        }
    }

    /// <summary>Delivers the frames read from a generation's stream that its subscribers have not had yet, in order.</summary>
    private void CatchUpLocked(Topic topic, Guid generationId, IReadOnlyList<LiveFrame> stored)
    {
        topic.Missing?.Remove(generationId);
        foreach (var frame in stored)
        {
            if (topic.LastSeq.TryGetValue(generationId, out var last) ? frame.Seq > last
                : topic.RecentlyFinished?.Contains(generationId) != true)
            {
                DeliverLocked(topic, frame);
            }
        }
    }

    private void DeliverLocked(Topic topic, LiveFrame frame)
    {
        if (frame.IsTerminal)
        {
            topic.LastSeq.Remove(frame.GenerationId);
            var finished = topic.RecentlyFinished ??= [];
            if (finished.Count >= MaxRecentlyFinished)
            {
                finished.Clear();
            }
            finished.Add(frame.GenerationId);
        }
        else
        {
            if (topic.LastSeq.Count >= MaxTrackedGenerations && !topic.LastSeq.ContainsKey(frame.GenerationId))
            {
                topic.LastSeq.Clear();
            }
            topic.LastSeq[frame.GenerationId] = frame.Seq;
        }

        _telemetry.FramesFannedOut.Add(1);
        foreach (var subscription in topic.Subscribers)
        {
            subscription.Deliver(frame);
        }
    }

    internal static LiveFrame? Parse(byte[]? utf8) =>
        utf8 is not null && GenerationFrameHeader.TryRead(utf8, out var header)
            ? new LiveFrame(header.ConversationId, header.GenerationId, header.Seq, header.IsTerminal, utf8)
            : null;

    private static LiveFrame InterruptedFrame(Topic topic) =>
        LiveFrame.Control(topic.ConversationId, ServerFrames.Encode(new StreamInterruptedFrame(topic.ConversationId)));

    private sealed class Topic(Guid conversationId)
    {
        public Guid ConversationId { get; } = conversationId;

        private volatile Subscription[] _subscribers = [];

        /// <summary>Copy-on-write (written under the hub's lock), so fan-out iterates without one.</summary>
        public Subscription[] Subscribers
        {
            get => _subscribers;
            set => _subscribers = value;
        }

        public Task Ready { get; set; } = Task.CompletedTask;

        public ChannelMessageQueue? Queue { get; set; }

        /// <summary>
        /// Serializes every delivery to the subscribers and guards the state below: the queue's sequential handler and a
        /// restore both deliver, and their frames must not interleave out of order. Taken after the hub's lock, never before.
        /// </summary>
        public Lock Gate { get; } = new();

        /// <summary>Last seq delivered per generation still running.</summary>
        public Dictionary<Guid, long> LastSeq { get; } = [];

        /// <summary>Generations that reached their terminal frame lately: a late copy of one of their frames is a duplicate.</summary>
        public HashSet<Guid>? RecentlyFinished { get; set; }

        /// <summary>The subscribers were told <c>stream.interrupted</c> and not yet <c>stream.restored</c>.</summary>
        public bool Interrupted { get; set; }

        /// <summary>Generations whose stream could not be read during a restore (yet): retried until the grace runs out.</summary>
        public HashSet<Guid>? Missing { get; set; }

        /// <summary>
        /// Until this timestamp (0: never) a generation first seen with seq &gt; 0 is filled from seq 0: it may have started
        /// while Redis was away, and its subscribers would otherwise never see its <c>generation.started</c>.
        /// </summary>
        public long FillFromStartUntil { get; set; }
    }
}
