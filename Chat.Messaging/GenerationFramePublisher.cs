using Chat.Messaging.Contracts;
using StackExchange.Redis;

namespace Chat.Messaging;

/// <summary>
/// Writes a generation's frames per docs/STREAMING.md: each frame is XADDed to <see cref="RedisKeys.GenerationStream"/>
/// with the explicit id <see cref="GenerationStreamSettings.EntryId"/>(seq) (MAXLEN ~ bounded; the writer sets EXPIRE
/// to the replay window on the first and last frames and at intervals between) and then PUBLISHed on
/// <see cref="RedisKeys.ConversationChannel"/>. The commands go down one connection in that order, so a subscriber that sees frame n on pub/sub finds frames 0..n in the stream.
/// </summary>
/// <remarks>
/// <see cref="PublishAsync"/> throws when Redis fails. The <c>…WriteAsync</c>/<see cref="AppendAsync"/>/
/// <see cref="PublishOnlyAsync"/> members never throw for Redis: they say what became of the write
/// (<see cref="FrameWriteStatus"/>), for a writer that keeps frames while Redis is away and writes them later.
/// </remarks>
public sealed class GenerationFramePublisher(IConnectionMultiplexer redis)
{
    /// <summary>Whether the multiplexer has a live connection: a cheap check before issuing commands that would otherwise
    /// wait in its backlog until it reconnects or times out.</summary>
    public bool IsConnected => redis.IsConnected;

    public async Task PublishAsync(GenerationFrame frame, TimeSpan replayWindow, int maxLength = GenerationStreamSettings.DefaultMaxLength)
    {
        var db = redis.GetDatabase();
        var json = frame.ToJson();
        var key = RedisKeys.GenerationStream(frame.GenerationId);
        var add = db.StreamAddAsync(key, GenerationStreamSettings.FrameField, json,
            messageId: GenerationStreamSettings.EntryId(frame.Seq), maxLength: maxLength, useApproximateMaxLength: true);
        var expire = db.KeyExpireAsync(key, replayWindow);
        var publish = db.PublishAsync(RedisKeys.ConversationChannel(frame.ConversationId), json);
        await Task.WhenAll(add, expire, publish);
    }

    /// <summary>XADD, EXPIRE (when <paramref name="expireAfter"/> is given) and PUBLISH of one frame whose JSON is
    /// <paramref name="json"/>, issued before this returns; the task never faults for Redis. PUBLISH is issued whatever
    /// becomes of the XADD (the commands are pipelined). Unless <paramref name="createStream"/>, the XADD has
    /// <c>NOMKSTREAM</c>: a stream that vanished (Redis restarted empty) is not re-created with this frame alone
    /// (<see cref="FrameWriteStatus.StreamMissing"/>).</summary>
    public async Task<FrameWriteStatus> WriteAsync(GenerationFrame frame, string json, TimeSpan? expireAfter, int maxLength, bool createStream = true)
    {
        Task<RedisValue> add;
        Task<bool>? expire = null;
        Task<long> publish;
        try
        {
            var db = redis.GetDatabase();
            var key = RedisKeys.GenerationStream(frame.GenerationId);
            add = db.StreamAddAsync(key, GenerationStreamSettings.FrameField, json, new StreamAddOptions
            {
                MessageId = GenerationStreamSettings.EntryId(frame.Seq),
                MaxLength = maxLength,
                Approximate = true,
                CreateStream = createStream,
            });
            if (expireAfter is { } window)
            {
                expire = db.KeyExpireAsync(key, window);
            }
            publish = db.PublishAsync(RedisKeys.ConversationChannel(frame.ConversationId), json);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            return FrameWriteStatus.NotWritten;
        }

        // Every task is observed, whichever fails first; XADD and PUBLISH awaited inline, and the EXPIRE (rare: see the
        // writer's rule) through a helper that allocates only when it has to wait, so a chunk's write allocates no more
        // than this method's own state machine.
        var status = FrameWriteStatus.Written;
        try
        {
            if ((await add).IsNull)
            {
                status = FrameWriteStatus.StreamMissing;
            }
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            status = Classify(ex);
        }

        status = await ObserveExpireAsync(expire, status);

        try
        {
            await publish;
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            status = Worse(status);
        }

        return status;
    }

    /// <summary>XADD only (no PUBLISH) of the frame <paramref name="seq"/> of <paramref name="generationId"/>, then EXPIRE when
    /// <paramref name="replayWindow"/> is given; never faults for Redis.</summary>
    public async Task<FrameWriteStatus> AppendAsync(Guid generationId, long seq, string json, int maxLength, TimeSpan? replayWindow = null)
    {
        Task<RedisValue> add;
        Task<bool>? expire = null;
        try
        {
            var db = redis.GetDatabase();
            var key = RedisKeys.GenerationStream(generationId);
            add = db.StreamAddAsync(key, GenerationStreamSettings.FrameField, json,
                messageId: GenerationStreamSettings.EntryId(seq), maxLength: maxLength, useApproximateMaxLength: true);
            if (replayWindow is { } window)
            {
                expire = db.KeyExpireAsync(key, window);
            }
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            return FrameWriteStatus.NotWritten;
        }

        var status = FrameWriteStatus.Written;
        try
        {
            await add;
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            status = Classify(ex);
        }

        status = await ObserveExpireAsync(expire, status);

        return status;
    }

    /// <summary>Awaits the EXPIRE issued with a frame, if any: a failed one makes <paramref name="status"/> worse. Completes
    /// at once, allocating nothing, when there is none or it has already succeeded.</summary>
    private static async ValueTask<FrameWriteStatus> ObserveExpireAsync(Task<bool>? expire, FrameWriteStatus status)
    {
        if (expire is null)
        {
            return status;
        }

        try
        {
            await expire;
            return status;
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            return Worse(status);
        }
    }

    /// <summary>PUBLISH only of a frame already in its stream; never faults for Redis (<see cref="FrameWriteStatus.IdRefused"/> never).</summary>
    public async Task<FrameWriteStatus> PublishOnlyAsync(Guid conversationId, string json)
    {
        try
        {
            await redis.GetDatabase().PublishAsync(RedisKeys.ConversationChannel(conversationId), json);
            return FrameWriteStatus.Written;
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            return FrameWriteStatus.NotWritten;
        }
    }

    /// <summary>The first and last entries of <paramref name="generationId"/>'s stream (their seqs, and the last one's frame
    /// JSON), or null when the stream does not exist. Throws when Redis fails.</summary>
    public async Task<StreamEnds?> ReadEndsAsync(Guid generationId)
    {
        var db = redis.GetDatabase();
        var key = RedisKeys.GenerationStream(generationId);
        var first = db.StreamRangeAsync(key, count: 1, messageOrder: Order.Ascending);
        var last = db.StreamRangeAsync(key, count: 1, messageOrder: Order.Descending);
        var (head, tail) = (await first, await last);
        return head.Length == 0 || tail.Length == 0
            ? null
            : new StreamEnds(SeqOf(head[0].Id), SeqOf(tail[0].Id), tail[0][GenerationStreamSettings.FrameField].ToString());
    }

    /// <summary>Deletes <paramref name="generationId"/>'s stream, so it can be written again from its first frame. Throws
    /// when Redis fails.</summary>
    public Task DeleteStreamAsync(Guid generationId) => redis.GetDatabase().KeyDeleteAsync(RedisKeys.GenerationStream(generationId));

    private static long SeqOf(RedisValue entryId)
    {
        var id = entryId.ToString();
        var dash = id.IndexOf('-');
        return long.Parse(dash < 0 ? id : id[..dash], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Whether <paramref name="ex"/> means "Redis did not take the command" (away, slow, disposed, or refusing)
    /// rather than a bug of the caller.</summary>
    public static bool IsRedisFailure(Exception ex) => ex is RedisException or TimeoutException or ObjectDisposedException;

    private static FrameWriteStatus Classify(Exception ex) =>
        ex is RedisServerException && ex.Message.Contains("equal or smaller", StringComparison.Ordinal)
            ? FrameWriteStatus.IdRefused
            : FrameWriteStatus.NotWritten;

    // A refused XADD stays the answer (it says the most); a failed EXPIRE or PUBLISH turns "written" (or "stream missing",
    // whose PUBLISH is then in doubt) into "not written".
    private static FrameWriteStatus Worse(FrameWriteStatus status) =>
        status is FrameWriteStatus.Written or FrameWriteStatus.StreamMissing ? FrameWriteStatus.NotWritten : status;
}

/// <summary>What became of a frame written to Redis.</summary>
public enum FrameWriteStatus
{
    /// <summary>Every command of the write succeeded.</summary>
    Written,

    /// <summary>XADD was refused because the stream's top entry id is equal to or greater than the frame's: the stream already
    /// holds this seq or a later one (whoever wrote it).</summary>
    IdRefused,

    /// <summary>The stream did not exist, so the XADD (<c>NOMKSTREAM</c>) added nothing; EXPIRE and PUBLISH went through.</summary>
    StreamMissing,

    /// <summary>Redis did not answer (not connected, timed out, disposed) or refused for another reason: unknown whether the
    /// commands took effect.</summary>
    NotWritten,
}

/// <summary>Where a generation's stream begins and ends: the seqs of its first and last entries, and the last one's JSON.</summary>
public readonly record struct StreamEnds(long FirstSeq, long LastSeq, string LastJson);
