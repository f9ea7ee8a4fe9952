using Chat.Streaming.Services;
using StackExchange.Redis;

namespace Chat.Streaming.Infrastructure;

/// <summary>
/// Redis going away and coming back (docs/PROTOCOL.md, "When Redis goes away"). Losing the subscription connection, every
/// local subscription is told <c>stream.interrupted</c>. StackExchange.Redis re-subscribes every channel by itself when
/// the connection is re-established (fire-and-forget SUBSCRIBEs, then the ConnectionRestored event); the restore then
/// reads, for each interrupted conversation, every generation it was following from that generation's stream after the
/// last seq delivered, delivers what is missing and sends <c>stream.restored</c>. A stream that is not there (Redis came
/// back empty and the runner has not re-created it yet) is retried until the grace (<see cref="StreamingOptions.RedisRestoreGrace"/>)
/// runs out; a live frame of that generation fills it at once. Whatever is still missing then is named in
/// <c>stream.restored {recovered:false}</c>, so no socket is left waiting without a terminal frame or an instruction.
/// </summary>
internal sealed class ConversationRestorer : IAsyncDisposable
{
    private const int RestoreParallelism = 8;
    private static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(500);

    private readonly ConversationHub _hub;
    private readonly IConnectionMultiplexer _redis;
    private readonly TimeSpan _grace;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _disposing = new();
    private int _failures; // subscription connections lost so far: a restore that sees it move knows Redis went away again
    private bool _restoreRequested; // under _gate
    private Task? _restoring; // under _gate: the restore loop while one runs

    public ConversationRestorer(ConversationHub hub, IConnectionMultiplexer redis, TimeSpan grace, TimeProvider time, ILogger logger)
    {
        _hub = hub;
        _redis = redis;
        _grace = grace;
        _time = time;
        _logger = logger;
        _redis.ConnectionFailed += OnConnectionFailed;
        _redis.ConnectionRestored += OnConnectionRestored;
    }

    /// <summary>Completes when no restore is running.</summary>
    public Task Idle
    {
        get
        {
            lock (_gate)
            {
                return _restoring ?? Task.CompletedTask;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _redis.ConnectionFailed -= OnConnectionFailed;
        _redis.ConnectionRestored -= OnConnectionRestored;
        await _disposing.CancelAsync();
        try
        {
            await Idle;
        }
        catch (OperationCanceledException)
        {
        }
        _disposing.Dispose();
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        // Pub/sub runs on its own connection (RESP2, see RedisExtensions.Configure); losing the interactive one alone loses
        // no published frame, and reads that fail meanwhile are handled where they are made.
        if (e.ConnectionType != ConnectionType.Subscription)
        {
            return;
        }
        Interlocked.Increment(ref _failures);
        var told = 0;
        foreach (var topic in _hub.Topics())
        {
            lock (topic.Gate)
            {
                told += topic.InterruptLocked() ? 1 : 0;
            }
        }
        if (told > 0)
        {
            StreamingLog.RedisInterrupted(_logger, e.FailureType.ToString(), told);
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType != ConnectionType.Subscription)
        {
            return;
        }
        lock (_gate)
        {
            _restoreRequested = true;
            if (_restoring is null && !_disposing.IsCancellationRequested)
            {
                // One restore loop at a time; a restore requested while one runs is run after it. Tracked, cancelled and
                // awaited on dispose.
                _restoring = RunRestoresAsync();
            }
        }
    }

    private async Task RunRestoresAsync()
    {
        await Task.Yield(); // off the event's thread
        while (true)
        {
            lock (_gate)
            {
                if (!_restoreRequested || _disposing.IsCancellationRequested)
                {
                    _restoring = null;
                    return;
                }
                _restoreRequested = false;
            }
            try
            {
                await RestoreAsync(_disposing.Token);
            }
            catch (OperationCanceledException) when (_disposing.IsCancellationRequested)
            {
            }
            catch (Exception ex)
            {
                // Topics left interrupted are picked up by the next restore.
                StreamingLog.RestoreFailed(_logger, ex);
            }
        }
    }

    private async Task RestoreAsync(CancellationToken cancellationToken)
    {
        var failures = Volatile.Read(ref _failures);
        // The re-SUBSCRIBEs were written fire-and-forget just before the ConnectionRestored event; a PING on the same
        // connection is answered only after them, so from here on every frame published reaches us live, and the streams
        // hold everything published before (XADD precedes PUBLISH).
        try
        {
            await _redis.GetSubscriber().PingAsync();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            StreamingLog.RestoreFailed(_logger, ex);
            return; // gone again: the next ConnectionRestored restarts
        }
        IReadOnlyList<ConversationTopic> topics = _hub.Topics();
        StreamingLog.RedisRestored(_logger, topics.Count);

        // Passes over every interrupted topic until each is caught up (or Redis is gone again), retrying missing streams
        // until the grace runs out. A topic waiting for a stream holds no slot between passes.
        var deadline = _time.GetTimestamp() + (long)(_grace.TotalSeconds * _time.TimestampFrequency);
        var options = new ParallelOptions { MaxDegreeOfParallelism = RestoreParallelism, CancellationToken = cancellationToken };
        for (var pass = 0; ; pass++)
        {
            var again = new List<ConversationTopic>();
            var first = pass == 0;
            await Parallel.ForEachAsync(topics, options, async (topic, _) =>
            {
                if (!await RestorePassAsync(topic, first, failures, deadline))
                {
                    lock (again)
                    {
                        again.Add(topic);
                    }
                }
            });
            if (again.Count == 0 || Volatile.Read(ref _failures) != failures)
            {
                return;
            }
            topics = again;
            await Task.Delay(RetryDelay(deadline), _time, cancellationToken);
        }
    }

    /// <summary>
    /// One pass over a topic: reads what each followed generation (on the first pass) or each generation still missing
    /// has in its stream after the last seq delivered, and delivers it. True when the topic is done with: restored (or
    /// told what is lost once the grace ran out), not interrupted, or Redis went away again; false to retry.
    /// </summary>
    private async Task<bool> RestorePassAsync(ConversationTopic topic, bool first, int failures, long deadline)
    {
        if (PendingReads(topic, first) is not { } pending)
        {
            return true;
        }
        foreach (var (generationId, after) in pending)
        {
            var stored = await _hub.TryReadReplayAsync(topic, generationId, after);
            if (Volatile.Read(ref _failures) != failures)
            {
                return true; // Redis went away again: the topic stays interrupted for the next restore
            }
            lock (topic.Gate)
            {
                if (stored is not null)
                {
                    topic.CatchUpLocked(generationId, stored);
                }
                else
                {
                    topic.MarkMissingLocked(generationId);
                }
            }
        }
        return TryFinish(topic, failures, deadline);
    }

    /// <summary>The generations a pass reads, each with the seq to read after; null when the topic is not interrupted.</summary>
    private static List<(Guid GenerationId, long After)>? PendingReads(ConversationTopic topic, bool first)
    {
        lock (topic.Gate)
        {
            if (!topic.Interrupted)
            {
                return null;
            }
            List<(Guid GenerationId, long After)> pending = first ? [.. topic.LastSeq.Select(p => (p.Key, p.Value))] : [];
            foreach (var generationId in topic.Missing ?? [])
            {
                if (!first || !topic.LastSeq.ContainsKey(generationId))
                {
                    pending.Add((generationId, topic.LastSeq.TryGetValue(generationId, out var last) ? last : -1));
                }
            }
            return pending;
        }
    }

    /// <summary>Ends the topic's interruption unless a stream is still missing within the grace; false to retry.</summary>
    private bool TryFinish(ConversationTopic topic, int failures, long deadline)
    {
        lock (topic.Gate)
        {
            if (Volatile.Read(ref _failures) != failures)
            {
                return true;
            }
            var missing = topic.Missing;
            if (missing is { Count: > 0 } && _time.GetTimestamp() < deadline)
            {
                return false; // retried on the next pass, unless a live frame fills it first
            }
            Guid[]? unrecovered = missing is { Count: > 0 } ? [.. missing] : null;
            if (unrecovered is not null)
            {
                StreamingLog.TopicNotRecovered(_logger, topic.ConversationId, unrecovered.Length);
            }
            topic.FinishLocked(unrecovered, _grace);
            return true;
        }
    }

    /// <summary>Retries a missing stream every <see cref="RetryInterval"/>, or at the deadline if that is sooner.</summary>
    private TimeSpan RetryDelay(long deadline)
    {
        var left = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
        return left < RetryInterval ? (left > TimeSpan.Zero ? left : TimeSpan.Zero) : RetryInterval;
    }
}
