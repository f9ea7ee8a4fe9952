using Chat.Messaging;
using Chat.Messaging.Contracts;
using Chat.Streaming.Services;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Chat.Streaming.Infrastructure;

/// <summary>
/// The replica's Redis side. One pub/sub subscription per conversation that has local subscribers (no pattern
/// subscriptions), shared by every local socket and dropped when the last one leaves. Frames are parsed once, checked
/// for gaps and duplicates per generation by their <see cref="ConversationTopic"/> (a gap — pub/sub is at-most-once — is
/// filled from the generation's stream), and handed to each local <see cref="Subscription"/>, which never blocks. When
/// the subscription connection to Redis is lost and comes back, the <see cref="ConversationRestorer"/> tells the sockets
/// and catches every conversation up from the streams.
/// </summary>
public sealed class ConversationHub : IAsyncDisposable
{
    private readonly IConnectionMultiplexer _redis;
    private readonly GenerationStreamReader _streams;
    private readonly StreamingTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly ILogger<ConversationHub> _logger;
    private readonly ConversationRestorer _restorer;
    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, ConversationTopic> _topics = [];

    public ConversationHub(IConnectionMultiplexer redis, StreamingTelemetry telemetry, IOptions<StreamingOptions> options,
        TimeProvider time, ILogger<ConversationHub> logger)
    {
        _redis = redis;
        _streams = new GenerationStreamReader(redis);
        _telemetry = telemetry;
        _time = time;
        _logger = logger;
        _restorer = new ConversationRestorer(this, redis, options.Value.RedisRestoreGrace, time, logger);
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

    /// <summary>Completes when no restore after a Redis outage is running (tests).</summary>
    public Task RestoreIdle => _restorer.Idle;

    public ValueTask DisposeAsync() => _restorer.DisposeAsync();

    /// <summary>Adds a local subscriber; completes once Redis has confirmed the channel subscription.</summary>
    public async Task AttachAsync(Subscription subscription, CancellationToken cancellationToken)
    {
        ConversationTopic topic;
        lock (_gate)
        {
            if (!_topics.TryGetValue(subscription.ConversationId, out topic!))
            {
                topic = new ConversationTopic(subscription.ConversationId, _telemetry, _time);
                _topics.Add(topic.ConversationId, topic);
                topic.Ready = SubscribeAsync(topic);
            }
            lock (topic.Gate)
            {
                topic.Subscribers = [.. topic.Subscribers, subscription];
                if (topic.Interrupted)
                {
                    // Joining mid-outage: told like the others, and told again when the topic is restored.
                    subscription.Notify(topic.InterruptedFrame());
                }
            }
        }
        await topic.Ready.WaitAsync(cancellationToken);
    }

    /// <summary>Removes a local subscriber; the last one out unsubscribes the replica from the channel.</summary>
    public async Task DetachAsync(Subscription subscription)
    {
        subscription.Close();
        ConversationTopic? emptied = null;
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
        if (emptied is not null)
        {
            await UnsubscribeAsync(emptied);
        }
    }

    /// <summary>Reads a generation's frames after <paramref name="after"/> from its replay stream; null when the stream is gone.</summary>
    public async Task<IReadOnlyList<LiveFrame>?> ReadReplayAsync(Guid conversationId, Guid generationId, long after)
    {
        var stored = await _streams.ReadJsonAfterAsync(generationId, after);
        if (stored.Count == 0)
        {
            // Empty: either nothing new yet (the stream exists) or the replay window has passed.
            return await _streams.StreamExistsAsync(generationId) ? [] : null;
        }
        var frames = new List<LiveFrame>(stored.Count);
        foreach (var json in stored)
        {
            if (Parse(json) is not { } frame)
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

    /// <summary>Every conversation subscribed to now.</summary>
    internal ConversationTopic[] Topics()
    {
        lock (_gate)
        {
            return [.. _topics.Values];
        }
    }

    /// <summary>As <see cref="ReadReplayAsync"/>, with a Redis failure logged and returned as null.</summary>
    internal async Task<IReadOnlyList<LiveFrame>?> TryReadReplayAsync(ConversationTopic topic, Guid generationId, long after)
    {
        try
        {
            return await ReadReplayAsync(topic.ConversationId, generationId, after);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            StreamingLog.ReplayFailed(_logger, ex, generationId);
            return null;
        }
    }

    private async Task SubscribeAsync(ConversationTopic topic)
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

    private async Task UnsubscribeAsync(ConversationTopic topic)
    {
        try
        {
            await topic.Ready;
            if (topic.Queue is { } queue)
            {
                await queue.UnsubscribeAsync();
                _telemetry.RedisSubscriptions.Add(-1);
                StreamingLog.ChannelUnsubscribed(_logger, topic.ConversationId);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // The connection is gone; so is the subscription.
        }
    }

    private Task OnMessageAsync(ConversationTopic topic, ChannelMessage message)
    {
        // The published bytes are parsed for their header only and forwarded as they are. No span per frame: at
        // thousands of frames a second an Activity each would be the largest allocation of the fan-out; frames are
        // counted by the chat.streaming.* metrics, and a generation is traced in Chat.Api.
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
            fillAfter = topic.AdmitLocked(frame);
        }
        return fillAfter is { } after ? FillAsync(topic, frame, after) : Task.CompletedTask;
    }

    /// <summary>Reads what <paramref name="live"/> is missing from its stream, delivers it, then the live frame itself.</summary>
    private async Task FillAsync(ConversationTopic topic, LiveFrame live, long after)
    {
        StreamingLog.GapDetected(_logger, live.GenerationId, live.ConversationId, after + 1, live.Seq);
        var stored = await TryReadReplayAsync(topic, live.GenerationId, after);
        lock (topic.Gate)
        {
            topic.FillLocked(live, stored);
        }
    }

    internal static LiveFrame? Parse(byte[]? utf8) =>
        utf8 is not null && GenerationFrameHeader.TryRead(utf8, out var header)
            ? new LiveFrame(header.ConversationId, header.GenerationId, header.Seq, header.IsTerminal, utf8)
            : null;
}
