using Chat.Messaging;
using Chat.Messaging.Contracts;
using Chat.Streaming.Services;
using StackExchange.Redis;

namespace Chat.Streaming.Infrastructure;

/// <summary>
/// The replica's Redis side. One pub/sub subscription per conversation that has local subscribers (no pattern
/// subscriptions), shared by every local socket and dropped when the last one leaves. Frames are parsed once, checked
/// for gaps and duplicates per generation (a gap — pub/sub is at-most-once — is filled from the generation's stream),
/// and handed to each local <see cref="Subscription"/>, which never blocks.
/// </summary>
public sealed class ConversationHub(IConnectionMultiplexer redis, StreamingTelemetry telemetry, ILogger<ConversationHub> logger)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, Topic> _topics = [];

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
            topic.Subscribers = [.. topic.Subscribers, subscription];
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
                telemetry.RedisSubscriptions.Add(-1);
                StreamingLog.ChannelUnsubscribed(logger, emptied.ConversationId);
            }
        }
        catch (RedisException)
        {
            // The connection is gone; so is the subscription.
        }
    }

    /// <summary>Reads a generation's frames after <paramref name="after"/> from its replay stream; null when the stream is gone.</summary>
    public async Task<IReadOnlyList<LiveFrame>?> ReadReplayAsync(Guid conversationId, Guid generationId, long after)
    {
        var db = redis.GetDatabase();
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
                StreamingLog.MalformedRedisFrame(logger, conversationId);
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
        var queue = await redis.GetSubscriber().SubscribeAsync(RedisKeys.ConversationChannel(topic.ConversationId));
        topic.Queue = queue;
        telemetry.RedisSubscriptions.Add(1);
        StreamingLog.ChannelSubscribed(logger, topic.ConversationId);
        // The queue hands messages over one at a time, in publication order, awaiting each handler. Its loop belongs to
        // the replica, not to the socket whose subscribe opened the topic, so it starts without that socket's execution
        // context: otherwise it would run every later frame (and any gap-filling Redis read) inside that socket's
        // subscribe span, ended long ago, and keep the span and its tags alive for as long as the topic lives.
        using (ExecutionContext.SuppressFlow())
        {
            queue.OnMessage(message => OnMessageAsync(topic, message));
        }
    }

    private async Task OnMessageAsync(Topic topic, ChannelMessage message)
    {
        // The published bytes are parsed for their header only and forwarded as they are. No span per frame: at
        // thousands of frames a second an Activity each was the largest allocation of the fan-out (dotnet-trace,
        // docs/BENCHMARKS.md); frames are counted by the chat.streaming.* metrics, and a generation is traced in Chat.Api.
        if (Parse((byte[]?)message.Message) is not { } frame || frame.ConversationId != topic.ConversationId)
        {
            StreamingLog.MalformedRedisFrame(logger, topic.ConversationId);
            return;
        }

        if (topic.LastSeq.TryGetValue(frame.GenerationId, out var last))
        {
            if (frame.Seq <= last)
            {
                return; // duplicate publication
            }
            if (frame.Seq > last + 1)
            {
                StreamingLog.GapDetected(logger, frame.GenerationId, frame.ConversationId, last + 1, frame.Seq);
                await FillGapAsync(topic, frame.GenerationId, last, frame.Seq);
            }
        }
        else if (topic.LastSeq.Count >= 256)
        {
            topic.LastSeq.Clear();
        }
        topic.LastSeq[frame.GenerationId] = frame.Seq;
        if (frame.IsTerminal)
        {
            topic.LastSeq.Remove(frame.GenerationId);
        }

        telemetry.FramesFannedOut.Add(1);
        var subscribers = topic.Subscribers;
        foreach (var subscription in subscribers)
        {
            subscription.Deliver(frame);
        }
    }

    private async Task FillGapAsync(Topic topic, Guid generationId, long last, long next)
    {
        try
        {
            var missing = await ReadReplayAsync(topic.ConversationId, generationId, last);
            foreach (var frame in missing ?? [])
            {
                if (frame.Seq >= next)
                {
                    break;
                }
                foreach (var subscription in topic.Subscribers)
                {
                    subscription.Deliver(frame);
                }
            }
        }
        catch (RedisException ex)
        {
            StreamingLog.ReplayFailed(logger, ex, generationId);
        }
    }

    internal static LiveFrame? Parse(byte[]? utf8) =>
        utf8 is not null && GenerationFrameHeader.TryRead(utf8, out var header)
            ? new LiveFrame(header.ConversationId, header.GenerationId, header.Seq, header.IsTerminal, utf8)
            : null;

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

        /// <summary>Touched only by the queue's sequential handler.</summary>
        public Dictionary<Guid, long> LastSeq { get; } = [];
    }
}
