using Chat.Streaming.Protocol;
using Chat.Streaming.Services;
using StackExchange.Redis;

namespace Chat.Streaming.Infrastructure;

/// <summary>
/// Redis going away and coming back (docs/PROTOCOL.md, "When Redis goes away"). Losing the subscription connection, every
/// local subscription is told <c>stream.interrupted</c>. StackExchange.Redis re-subscribes every channel by itself when
/// the connection is re-established (fire-and-forget SUBSCRIBEs, then the ConnectionRestored event); the restore then
/// reads, for each interrupted conversation, every generation it was following from that generation's stream after the
/// last seq delivered, delivers what is missing and sends <c>stream.restored</c>. A stream that is not there (Redis came
/// back empty and the runner has not re-created it yet) is retried until <see cref="StreamingOptions.RedisRestoreGrace"/>
/// runs out; a live frame of that generation fills it at once. Whatever is still missing then is named in
/// <c>stream.restored {recovered:false}</c>, so no socket is left waiting without a terminal frame or an instruction.
/// </summary>
public sealed partial class ConversationHub
{
    private const int RestoreParallelism = 8;

    private readonly TimeSpan _restoreGrace;
    private readonly CancellationTokenSource _disposing = new();
    private int _failures; // subscription connections lost so far: a restore that sees it move knows Redis went away again
    private bool _restoreRequested; // under _gate
    private Task? _restoring; // under _gate: the restore loop while one runs

    /// <summary>Completes when no restore is running (tests).</summary>
    public Task RestoreIdle
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
            await RestoreIdle;
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
        Topic[] topics;
        lock (_gate)
        {
            topics = [.. _topics.Values];
        }
        var told = 0;
        foreach (var topic in topics)
        {
            lock (topic.Gate)
            {
                if (topic.Interrupted)
                {
                    continue; // already told: a reconnect attempt that failed again
                }
                topic.Interrupted = true;
                topic.FillFromStartUntil = long.MaxValue;
                var frame = InterruptedFrame(topic);
                foreach (var subscription in topic.Subscribers)
                {
                    subscription.Notify(frame);
                }
                told++;
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
        List<Topic> topics;
        lock (_gate)
        {
            topics = [.. _topics.Values];
        }
        StreamingLog.RedisRestored(_logger, topics.Count);

        // Passes over every interrupted topic until each is caught up (or Redis is gone again), retrying missing streams
        // until the grace runs out. A topic waiting for a stream holds no slot between passes.
        var deadline = _time.GetTimestamp() + (long)(_restoreGrace.TotalSeconds * _time.TimestampFrequency);
        var options = new ParallelOptions { MaxDegreeOfParallelism = RestoreParallelism, CancellationToken = cancellationToken };
        for (var pass = 0; ; pass++)
        {
            var again = new List<Topic>();
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
    private async Task<bool> RestorePassAsync(Topic topic, bool first, int failures, long deadline)
    {
        List<(Guid GenerationId, long After)> pending;
        lock (topic.Gate)
        {
            if (!topic.Interrupted)
            {
                return true;
            }
            pending = first ? [.. topic.LastSeq.Select(p => (p.Key, p.Value))] : [];
            foreach (var generationId in topic.Missing ?? [])
            {
                if (!first || !topic.LastSeq.ContainsKey(generationId))
                {
                    pending.Add((generationId, topic.LastSeq.TryGetValue(generationId, out var last) ? last : -1));
                }
            }
        }
        foreach (var (generationId, after) in pending)
        {
            IReadOnlyList<LiveFrame>? stored;
            try
            {
                stored = await ReadReplayAsync(topic.ConversationId, generationId, after);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                StreamingLog.ReplayFailed(_logger, ex, generationId);
                stored = null;
            }
            if (Volatile.Read(ref _failures) != failures)
            {
                return true; // Redis went away again: the topic stays interrupted for the next restore
            }
            lock (topic.Gate)
            {
                if (stored is not null)
                {
                    CatchUpLocked(topic, generationId, stored);
                }
                else
                {
                    (topic.Missing ??= []).Add(generationId);
                }
            }
        }

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
            FinishLocked(topic, missing is { Count: > 0 } ? [.. missing] : null);
            return true;
        }
    }

    /// <summary>Ends the interruption: <c>stream.restored</c> to every subscriber, recovered unless <paramref name="unrecovered"/>.</summary>
    private void FinishLocked(Topic topic, Guid[]? unrecovered)
    {
        topic.Interrupted = false;
        topic.Missing = null;
        // Generations whose frames were held for the restore may still turn up without their start for a while.
        topic.FillFromStartUntil = _time.GetTimestamp() + (long)(_restoreGrace.TotalSeconds * _time.TimestampFrequency);
        if (unrecovered is not null)
        {
            StreamingLog.TopicNotRecovered(_logger, topic.ConversationId, unrecovered.Length);
        }
        var frame = LiveFrame.Control(topic.ConversationId,
            ServerFrames.Encode(new StreamRestoredFrame(topic.ConversationId, unrecovered is null, unrecovered)));
        foreach (var subscription in topic.Subscribers)
        {
            subscription.Notify(frame);
        }
    }

    /// <summary>Retries a missing stream every half second, or at the deadline if that is sooner.</summary>
    private TimeSpan RetryDelay(long deadline)
    {
        var left = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
        var delay = TimeSpan.FromMilliseconds(500);
        return left < delay ? (left > TimeSpan.Zero ? left : TimeSpan.Zero) : delay;
    }
}
