using Chat.Llm.Diagnostics;
using Chat.Llm.Options;
using Chat.Messaging;
using Chat.Messaging.Contracts;

namespace Chat.Llm.Generation;

/// <summary>
/// Where a generation's frames go: each at once to <see cref="GenerationFeed"/>, and to Redis in order, through a journal
/// that outlasts a Redis outage. Nothing here faults because of Redis.
/// </summary>
/// <remarks>
/// <para><b>Live</b> (Redis healthy): <see cref="SendAsync"/> keeps the frame's JSON, issues its XADD and PUBLISH, with an EXPIRE on the
/// first and last frames and every quarter replay window between (the multiplexer keeps one connection's commands in order) and returns the previous frame's write, so one write is in flight
/// while the next frame is produced. A write never faults; its outcome is read at a later send.</para>
/// <para><b>Away</b>: when a write fails or the multiplexer is not connected (<see cref="GenerationFramePublisher.IsConnected"/>,
/// checked before every write, so no command waits in the multiplexer's backlog), frames are only kept, in order, and
/// <see cref="SendAsync"/> returns at once. At most <see cref="GenerationOptions.StreamMaxLength"/> frames are kept (the
/// stream's own bound): an outage longer than that loses the oldest from replay, never from live delivery order.</para>
/// <para><b>Recovery</b> (<see cref="FrameRecovery"/>, started by a send or <see cref="FlushAsync"/> once the multiplexer is
/// connected again): it first waits for the writes issued while live, then reads the stream's first and last entries and
/// writes what is missing, in order, XADD before PUBLISH for every frame:</para>
/// <list type="bullet">
/// <item>Live XADDs after the first carry <c>NOMKSTREAM</c>: a Redis that restarted empty between two frames (the
/// multiplexer reconnected before the next send, so <c>IsConnected</c> never said) adds nothing and says so, and the
/// recovery below re-creates the stream (that one frame was PUBLISHed a moment before its XADD).</item>
/// <item>The stream is gone, or begins after the oldest frame kept (Redis restarted empty; the stream expired): it is
/// deleted if it exists and re-created from the oldest frame kept (seq 0 unless the generation outgrew the bound); frames
/// already published are only XADDed, the others XADDed then PUBLISHed.</item>
/// <item>The stream ends at a frame we sent with the same JSON: everything up to it is in the stream (writes in flight
/// when Redis went away may have landed); the rest is XADDed and PUBLISHed.</item>
/// <item>Frames known published are never PUBLISHed again. A frame counts as published when its PUBLISH was answered, so
/// a frame in flight when the connection dropped is published again: at least once for those, exactly once for the
/// frames sent while Redis was away. Followers drop a seq they have seen.</item>
/// <item>An XADD refused as "ID equal or smaller" for a frame already tried before landed earlier: written, not
/// PUBLISHed again.</item>
/// </list>
/// <para><b>Superseded</b> (another process, e.g. a sweeper that declared the generation interrupted, ended it): we write
/// in order and never write a seq twice, so the stream can only hold a seq we have not tried yet if someone else wrote
/// it. Hence the rule, exact and cheap (it costs nothing while XADDs succeed): an XADD refused for a frame we never tried
/// before, or a stream whose last entry is beyond our last frame or differs from our frame at that seq, means superseded.
/// Nothing is written after that (the frames stay in the feed). Pipelining has a price here: the one or two frames in
/// flight when a live XADD is refused are PUBLISHed (and the next XADD may land after the other writer's terminal frame);
/// readers stop at the first terminal frame, so they never show them.</para>
/// <para>Cost while live (the hot send path): the JSON string each frame already needed is kept in a
/// <see cref="FrameJournal"/> ring of (seq, JSON) that grows by doubling up to the bound (16 bytes a slot); each write is
/// one async state machine and there is one uncontended lock per send. The bookkeeping is in <see cref="FrameLedger"/>.</para>
/// </remarks>
internal sealed class FrameOutlet
{
    private readonly GenerationFeed _feed;
    private readonly GenerationFramePublisher _publisher;
    private readonly GenerationOptions _settings;
    private readonly TimeProvider _time;
    private readonly FrameLedger _ledger;
    private readonly FrameRecovery _recovery;

    // Live writes not yet read back, oldest first, by position (the index of a frame in send order). Guarded by the
    // ledger's gate, as is _previous (the last live write, returned by the next send).
    private readonly Queue<(long Position, Task<FrameWriteStatus> Write)> _inflight = new();
    private Task _previous = Task.CompletedTask;
    private long _expirySetAt; // when the last live write set the stream's expiry (a TimeProvider timestamp), under the gate

    public FrameOutlet(GenerationFeed feed, GenerationFramePublisher publisher, GenerationOptions settings, GenerationMetrics? metrics = null, TimeProvider? timeProvider = null)
    {
        _feed = feed;
        _publisher = publisher;
        _settings = settings;
        _time = timeProvider ?? TimeProvider.System;
        _ledger = new FrameLedger(settings.StreamMaxLength, metrics);
        _recovery = new FrameRecovery(_ledger, publisher, settings, _time, SettleInflightAsync);
    }

    /// <summary>True once Redis showed that another process wrote this generation's stream beyond what we sent (see the
    /// rule above): stop, nothing more is written to Redis.</summary>
    public bool Superseded => _ledger.Superseded;

    /// <summary>Frames sent that wait for Redis (0 while live).</summary>
    public int Buffered
    {
        get
        {
            lock (_ledger.Gate)
            {
                return _ledger.Buffered;
            }
        }
    }

    /// <summary>
    /// Hands <paramref name="frame"/> to the feed and to Redis (or keeps it for Redis). Seqs must increase. The task is the
    /// previous frame's write while live (never faulted), completed at once otherwise.
    /// </summary>
    public Task SendAsync(GenerationFrame frame)
    {
        var json = frame.ToJson();
        Task previous;
        lock (_ledger.Gate)
        {
            var position = _ledger.Add(frame, json);
            previous = position < 0 ? Task.CompletedTask : Write(frame, json, position);
        }

        _feed.Deliver(frame);
        return previous;
    }

    /// <summary>
    /// Waits until every frame sent is in Redis (and published), retrying while Redis is away for at most
    /// <paramref name="wait"/> (polling 100 ms → 1 s). True when everything is written; false when <paramref name="wait"/>
    /// ran out or the generation is <see cref="Superseded"/>. Throws only when <paramref name="ct"/> is cancelled.
    /// </summary>
    public async Task<bool> FlushAsync(TimeSpan wait, CancellationToken ct)
    {
        var start = _time.GetTimestamp();
        var poll = FrameRecovery.FirstRetry;
        while (true)
        {
            await SettleInflightAsync();
            Task recovery;
            lock (_ledger.Gate)
            {
                if (_ledger.Superseded)
                {
                    return false;
                }

                if (_ledger.CaughtUp)
                {
                    return true;
                }

                _recovery.TryStart();
                recovery = _recovery.Current;
            }

            var remaining = wait - _time.GetElapsedTime(start);
            if (remaining <= TimeSpan.Zero)
            {
                return false;
            }

            if (!recovery.IsCompleted)
            {
                try
                {
                    await recovery.WaitAsync(remaining, _time, ct);
                }
                catch (TimeoutException)
                {
                    return false;
                }

                continue;
            }

            await Task.Delay(poll < remaining ? poll : remaining, _time, ct);
            poll = poll * 2 < FrameRecovery.LastRetry ? poll * 2 : FrameRecovery.LastRetry;
        }
    }

    /// <summary>Observes every write issued, whatever became of it (never throws).</summary>
    public async Task SettleAsync()
    {
        await SettleInflightAsync();
        Task recovery;
        lock (_ledger.Gate)
        {
            recovery = _recovery.Current;
        }

        await recovery;
    }

    /// <summary>Under the gate: issues the live write of the frame kept at <paramref name="position"/> and returns the
    /// previous one, or keeps it for the recovery when Redis is away.</summary>
    private Task Write(GenerationFrame frame, string json, long position)
    {
        Harvest();
        if (_ledger.Superseded)
        {
            // Read back just now: nothing more goes to Redis.
            return Task.CompletedTask;
        }

        if (_ledger.Live && _publisher.IsConnected)
        {
            // Issued here (queued on the connection before this returns), then handed to the feed by the caller: the
            // local follower may write its response inline, and Redis's followers should not wait for that.
            // Only the first frame creates the stream; a later one finding it gone means Redis restarted empty
            // between two frames, unseen by IsConnected (StreamMissing, read back by Harvest).
            var write = _publisher.WriteAsync(frame, json, ExpiryToSet(frame, position), _settings.StreamMaxLength, createStream: position == 0);
            _inflight.Enqueue((position, write));
            _ledger.Attempted = position + 1;
            var previous = _previous;
            _previous = write;
            return previous;
        }

        GoAwayIfLive();
        _ledger.CountBuffered();
        _recovery.TryStart();
        return Task.CompletedTask;
    }

    /// <summary>
    /// Under the gate: the replay window when this live write is to (re)set the stream's expiry, else null. Set on the
    /// first frame, on the terminal frame (the stream lives a whole window after the last frame) and whenever a quarter
    /// window has passed since the last set, so a running generation's stream always has ≥ ¾ of a window left. An
    /// EXPIRE per chunk would be a third of the commands Redis runs for a generation (docs/STREAMING.md, "Writing").
    /// </summary>
    private TimeSpan? ExpiryToSet(GenerationFrame frame, long position)
    {
        var now = _time.GetTimestamp();
        if (position != 0 && !frame.IsTerminal && _time.GetElapsedTime(_expirySetAt, now) < _settings.ReplayWindow / 4)
        {
            return null;
        }

        _expirySetAt = now;
        return _settings.ReplayWindow;
    }

    private async Task SettleInflightAsync()
    {
        while (true)
        {
            Task write;
            lock (_ledger.Gate)
            {
                Harvest();
                if (!_inflight.TryPeek(out var head))
                {
                    return;
                }

                write = head.Write;
            }

            await write;
        }
    }

    /// <summary>Reads back the live writes that completed, oldest first (under the gate).</summary>
    private void Harvest()
    {
        while (_inflight.TryPeek(out var head) && head.Write.IsCompleted)
        {
            _inflight.Dequeue();
            switch (head.Write.Result)
            {
                case FrameWriteStatus.Written when head.Position == _ledger.Written:
                    _ledger.Written = head.Position + 1;
                    _ledger.Published = Math.Max(_ledger.Published, _ledger.Written);
                    break;
                case FrameWriteStatus.Written:
                    // After an earlier write failed: the recovery reads the stream to know.
                    break;
                case FrameWriteStatus.StreamMissing:
                    // Published, but the stream is gone (Redis restarted empty between two frames): the recovery re-creates it.
                    if (head.Position == _ledger.Published)
                    {
                        _ledger.Published++;
                    }

                    GoAwayIfLive();
                    break;
                case FrameWriteStatus.IdRefused:
                    // A live write is always a frame's first try: someone else wrote this seq or a later one.
                    _ledger.Superseded = true;
                    break;
                default:
                    GoAwayIfLive();
                    break;
            }
        }
    }

    /// <summary>Redis is away: frames are only kept from now on, until a recovery catches the stream up.</summary>
    private void GoAwayIfLive()
    {
        if (_ledger.Live)
        {
            _ledger.Live = false;
            _previous = Task.CompletedTask;
            _ledger.CountBuffered();
        }
    }
}
