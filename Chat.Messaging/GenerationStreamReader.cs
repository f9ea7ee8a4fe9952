using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Chat.Messaging.Contracts;
using StackExchange.Redis;

namespace Chat.Messaging;

/// <summary>Reads a generation's frames back from Redis: a replay range from its stream, or a gap-free follow
/// (replay, then live pub/sub) that ends with the terminal frame — what SSE resume with <c>Last-Event-ID</c> needs.</summary>
public sealed class GenerationStreamReader(IConnectionMultiplexer redis)
{
    /// <summary>The frames with seq &gt; <paramref name="afterSeq"/> still in the replay stream, in order
    /// (<paramref name="afterSeq"/> = -1 reads from the start).</summary>
    public async Task<IReadOnlyList<GenerationFrame>> ReadAfterAsync(Guid generationId, long afterSeq, int? count = null)
    {
        var stored = await ReadJsonAfterAsync(generationId, afterSeq, count);
        var frames = new List<GenerationFrame>(stored.Count);
        foreach (var json in stored)
        {
            if (GenerationFrame.FromJson(json) is { } frame)
            {
                frames.Add(frame);
            }
        }

        return frames;
    }

    /// <summary>The UTF-8 JSON of the frames with seq &gt; <paramref name="afterSeq"/> still in the replay stream, in order, as
    /// published (for a reader that forwards the bytes rather than the parsed frame). Empty when the stream does not exist.</summary>
    public async Task<IReadOnlyList<byte[]>> ReadJsonAfterAsync(Guid generationId, long afterSeq, int? count = null)
    {
        var entries = await redis.GetDatabase().StreamRangeAsync(
            RedisKeys.GenerationStream(generationId), GenerationStreamSettings.RangeStartAfter(afterSeq), "+", count);
        var frames = new List<byte[]>(entries.Length);
        foreach (var entry in entries)
        {
            var json = entry[GenerationStreamSettings.FrameField];
            if (!json.IsNullOrEmpty)
            {
                frames.Add((byte[])json!);
            }
        }

        return frames;
    }

    /// <summary>Whether the generation's replay stream still exists (an empty read may mean "nothing new" or "expired").</summary>
    public Task<bool> StreamExistsAsync(Guid generationId) => redis.GetDatabase().KeyExistsAsync(RedisKeys.GenerationStream(generationId));

    /// <summary>
    /// Every frame of a generation followed in this process (<see cref="GenerationFeed.Open"/>), from seq 0 up to and
    /// including the terminal one, with no gap: frames the follower fell too far behind for are read back from the replay
    /// stream. No Redis round trip otherwise. Ends early if nothing arrives within <paramref name="idleLimit"/>.
    /// </summary>
    public IAsyncEnumerable<GenerationFrame> FollowAsync(GenerationFeed.Follower live, TimeSpan idleLimit, CancellationToken cancellationToken = default) =>
        ContinueAsync(live.Frames.Reader, live.GenerationId, -1, idleLimit, cancellationToken);

    /// <summary>
    /// Every frame after <paramref name="afterSeq"/> up to and including the terminal one, with no gap and no
    /// duplicate: subscribes to the conversation channel first, then replays the stream, then yields live frames
    /// (re-reading the stream if pub/sub ever skips a seq). Ends early if the stream has expired and nothing arrives
    /// within <paramref name="idleLimit"/>.
    /// </summary>
    public async IAsyncEnumerable<GenerationFrame> FollowAsync(
        Guid conversationId, Guid generationId, long afterSeq, TimeSpan idleLimit, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var live = Channel.CreateBounded<GenerationFrame>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest });
        var subscriber = redis.GetSubscriber();
        var channel = RedisKeys.ConversationChannel(conversationId);
        void Handler(RedisChannel _, RedisValue message)
        {
            // Other generations of the conversation share the channel: read the header, parse only this one's frames.
            byte[] utf8 = message!;
            if (GenerationFrameHeader.TryRead(utf8, out var header) && header.GenerationId == generationId
                && GenerationFrame.FromJson(utf8) is { } f)
            {
                live.Writer.TryWrite(f);
            }
        }

        await subscriber.SubscribeAsync(channel, Handler);
        try
        {
            var last = afterSeq;
            foreach (var frame in await ReadAfterAsync(generationId, last))
            {
                last = frame.Seq;
                yield return frame;
                if (frame.IsTerminal)
                {
                    yield break;
                }
            }

            await foreach (var frame in ContinueAsync(live.Reader, generationId, last, idleLimit, cancellationToken))
            {
                yield return frame;
            }
        }
        finally
        {
            await subscriber.UnsubscribeAsync(channel, Handler);
        }
    }

    /// <summary>
    /// The frames after seq <paramref name="last"/> as they arrive on <paramref name="frames"/>, up to and including the
    /// terminal one: a frame seen before is skipped, and a skipped seq (pub/sub lost it, or a bounded buffer dropped it
    /// while its reader lagged) is read back from the stream, which holds every frame up to the one in hand (its XADD
    /// went down the same connection first). Ends when <paramref name="frames"/> completes or nothing arrives within
    /// <paramref name="idleLimit"/>.
    /// </summary>
    private async IAsyncEnumerable<GenerationFrame> ContinueAsync(
        ChannelReader<GenerationFrame> frames, Guid generationId, long last, TimeSpan idleLimit, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            if (!frames.TryRead(out var next))
            {
                bool more;
                using (var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    idle.CancelAfter(idleLimit);
                    try
                    {
                        more = await frames.WaitToReadAsync(idle.Token);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        yield break;
                    }
                }

                if (!more)
                {
                    yield break;
                }

                continue;
            }

            var position = FrameSequence.Place(last, next.Seq);
            if (position == SeqPosition.Duplicate)
            {
                continue;
            }

            var batch = position == SeqPosition.Next ? [next] : await ReadAfterAsync(generationId, last);
            foreach (var frame in batch)
            {
                if (FrameSequence.IsDuplicate(last, frame.Seq))
                {
                    continue;
                }

                last = frame.Seq;
                yield return frame;
                if (frame.IsTerminal)
                {
                    yield break;
                }
            }
        }
    }
}
