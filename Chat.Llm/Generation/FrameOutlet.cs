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
/// <para><b>Live</b> (Redis healthy): <see cref="SendAsync"/> keeps the frame's JSON, issues its XADD, EXPIRE and PUBLISH (the
/// multiplexer keeps one connection's commands in order) and returns the previous frame's write, so one write is in flight
/// while the next frame is produced, as before. A write never faults; its outcome is read at a later send.</para>
/// <para><b>Away</b>: when a write fails or the multiplexer is not connected (<see cref="GenerationFramePublisher.IsConnected"/>,
/// checked before every write, so no command waits in the multiplexer's backlog), frames are only kept, in order, and
/// <see cref="SendAsync"/> returns at once. At most <see cref="GenerationOptions.StreamMaxLength"/> frames are kept (the
/// stream's own bound): an outage longer than that loses the oldest from replay, never from live delivery order.</para>
/// <para><b>Recovery</b> (started by a send or <see cref="FlushAsync"/> once the multiplexer is connected again, with a
/// 100 ms → 1 s back-off between failed attempts; one at a time): it first waits for the writes issued while live, then
/// reads the stream's first and last entries and writes what is missing, in order, XADD before PUBLISH for every frame:</para>
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
/// <para>Cost while live: the JSON string each frame already needed is kept in a ring of (seq, JSON) that grows by
/// doubling up to the bound (16 bytes a slot), and each write is one async state machine (the former
/// <c>Task.WhenAll</c> is gone), so a frame allocates no more than before; one uncontended lock per send.</para>
/// </remarks>
internal sealed class FrameOutlet
{
    private static readonly TimeSpan s_firstRetry = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan s_lastRetry = TimeSpan.FromSeconds(1);

    /// <summary>Frames XADDed at once (pipelined) during a recovery before their replies are read.</summary>
    private const int RecoveryBatch = 256;

    private readonly GenerationFeed _feed;
    private readonly GenerationFramePublisher _publisher;
    private readonly GenerationOptions _settings;
    private readonly GenerationMetrics? _metrics;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly FrameJournal _journal;

    // Live writes not yet read back, oldest first, by position (the index of a frame in send order).
    private readonly Queue<(long Position, Task<FrameWriteStatus> Write)> _inflight = new();

    // All guarded by _gate. Positions, not seqs: frames 0.._written-1 are known to be in the stream, 0.._published-1 known
    // published, 0.._attempted-1 had an XADD issued at least once; frames below _counted were counted as buffered.
    private Guid _generationId;
    private Guid _conversationId;
    private long _lastSeq = -1;
    private long _written;
    private long _published;
    private long _attempted;
    private long _counted;
    private bool _live = true;
    private volatile bool _superseded;
    private Task _previous = Task.CompletedTask;
    private Task _recovery = Task.CompletedTask;
    private long _retryAt;
    private TimeSpan _backoff = s_firstRetry;

    public FrameOutlet(GenerationFeed feed, GenerationFramePublisher publisher, GenerationOptions settings, GenerationMetrics? metrics = null, TimeProvider? timeProvider = null)
    {
        _feed = feed;
        _publisher = publisher;
        _settings = settings;
        _metrics = metrics;
        _time = timeProvider ?? TimeProvider.System;
        _journal = new FrameJournal(settings.StreamMaxLength);
    }

    /// <summary>True once Redis showed that another process wrote this generation's stream beyond what we sent (see the
    /// rule above): stop, nothing more is written to Redis.</summary>
    public bool Superseded => _superseded;

    /// <summary>Frames sent that wait for Redis (0 while live).</summary>
    public int Buffered
    {
        get
        {
            lock (_gate)
            {
                return _live || _superseded ? 0 : (int)(_journal.End - _written);
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
        lock (_gate)
        {
            if (frame.Seq <= _lastSeq)
            {
                throw new ArgumentException($"Frame seq {frame.Seq} after {_lastSeq}: seqs must increase.", nameof(frame));
            }

            _lastSeq = frame.Seq;
            if (_journal.End == 0)
            {
                _generationId = frame.GenerationId;
                _conversationId = frame.ConversationId;
            }

            if (_superseded)
            {
                previous = Task.CompletedTask;
            }
            else
            {
                var position = _journal.End;
                _journal.Add(frame.Seq, json);
                Harvest();
                if (_superseded)
                {
                    // Read back just now: nothing more goes to Redis.
                    previous = Task.CompletedTask;
                }
                else if (_live && _publisher.IsConnected)
                {
                    // Issued here (queued on the connection before this returns), then handed to the feed below: the local
                    // follower may write its response inline, and Redis's followers should not wait for that.
                    // Only the first frame creates the stream; a later one finding it gone means Redis restarted empty
                    // between two frames, unseen by IsConnected (StreamMissing, read back below).
                    var write = _publisher.WriteAsync(frame, json, _settings.ReplayWindow, _settings.StreamMaxLength, createStream: position == 0);
                    _inflight.Enqueue((position, write));
                    _attempted = position + 1;
                    previous = _previous;
                    _previous = write;
                }
                else
                {
                    if (_live)
                    {
                        GoAway();
                    }

                    CountBuffered();
                    TryStartRecovery();
                    previous = Task.CompletedTask;
                }
            }
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
        var poll = s_firstRetry;
        while (true)
        {
            await SettleInflightAsync();
            Task recovery;
            lock (_gate)
            {
                if (_superseded)
                {
                    return false;
                }

                if (_written == _journal.End && _published == _journal.End)
                {
                    return true;
                }

                TryStartRecovery();
                recovery = _recovery;
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
            poll = poll * 2 < s_lastRetry ? poll * 2 : s_lastRetry;
        }
    }

    /// <summary>Waits for the writes in flight (and a recovery under way); surfaces nothing, retries nothing. Kept for the
    /// runner until it calls <see cref="FlushAsync"/>.</summary>
    public Task DrainAsync() => SettleAsync();

    /// <summary>Observes every write issued, whatever became of it (never throws).</summary>
    public async Task SettleAsync()
    {
        await SettleInflightAsync();
        Task recovery;
        lock (_gate)
        {
            recovery = _recovery;
        }

        await recovery;
    }

    private async Task SettleInflightAsync()
    {
        while (true)
        {
            Task write;
            lock (_gate)
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

    /// <summary>Reads back the live writes that completed, oldest first.</summary>
    private void Harvest()
    {
        while (_inflight.TryPeek(out var head) && head.Write.IsCompleted)
        {
            _inflight.Dequeue();
            switch (head.Write.Result)
            {
                case FrameWriteStatus.Written when head.Position == _written:
                    _written = head.Position + 1;
                    _published = Math.Max(_published, _written);
                    break;
                case FrameWriteStatus.Written:
                    // After an earlier write failed: the recovery reads the stream to know.
                    break;
                case FrameWriteStatus.StreamMissing:
                    // Published, but the stream is gone (Redis restarted empty between two frames): the recovery re-creates it.
                    if (head.Position == _published)
                    {
                        _published++;
                    }

                    if (_live)
                    {
                        GoAway();
                    }

                    break;
                case FrameWriteStatus.IdRefused:
                    // A live write is always a frame's first try: someone else wrote this seq or a later one.
                    _superseded = true;
                    break;
                default:
                    if (_live)
                    {
                        GoAway();
                    }

                    break;
            }
        }
    }

    private void GoAway()
    {
        _live = false;
        _previous = Task.CompletedTask;
        CountBuffered();
    }

    private void CountBuffered()
    {
        var from = Math.Max(_written, _counted);
        if (_journal.End > from)
        {
            _metrics?.FramesBuffered.Add(_journal.End - from);
            _counted = _journal.End;
        }
    }

    private void TryStartRecovery()
    {
        if (_live || _superseded || !_recovery.IsCompleted || _time.GetTimestamp() < _retryAt || !_publisher.IsConnected)
        {
            return;
        }

        _recovery = RecoverAsync();
    }

    private async Task RecoverAsync()
    {
        // Off the sender's thread (and out of its lock) at once: the generation goes on while this writes.
        await Task.Yield();
        bool done;
        try
        {
            done = await TryRecoverAsync();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Redis failed a read or a delete mid-way: try again later.
            done = false;
        }

        lock (_gate)
        {
            if (done)
            {
                _backoff = s_firstRetry;
                _retryAt = 0;
            }
            else
            {
                _retryAt = _time.GetTimestamp() + (long)(_backoff.TotalSeconds * _time.TimestampFrequency);
                _backoff = _backoff * 2 < s_lastRetry ? _backoff * 2 : s_lastRetry;
            }
        }
    }

    /// <summary>Writes what the stream misses; true when caught up (live again) or superseded, false when Redis failed.</summary>
    private async Task<bool> TryRecoverAsync()
    {
        // The writes issued while live first: then nothing of ours is on its way to Redis while we look.
        await SettleInflightAsync();
        if (_superseded)
        {
            return true;
        }

        if (!_publisher.IsConnected)
        {
            return false;
        }

        var ends = await _publisher.ReadEndsAsync(_generationId);
        bool rebuild;
        lock (_gate)
        {
            rebuild = Reconcile(ends);
            if (_superseded)
            {
                return true;
            }
        }

        if (rebuild && ends is not null)
        {
            await _publisher.DeleteStreamAsync(_generationId);
        }

        while (true)
        {
            long from;
            long attemptedBefore;
            (long Seq, string Json)[] batch;
            lock (_gate)
            {
                if (_superseded)
                {
                    return true;
                }

                SkipLost();
                if (_written == _journal.End && _published == _journal.End)
                {
                    _live = true;
                    return true;
                }

                from = _written;
                batch = new (long, string)[Math.Min(RecoveryBatch, _journal.End - from)];
                for (var i = 0; i < batch.Length; i++)
                {
                    batch[i] = _journal[from + i];
                }

                attemptedBefore = _attempted;
                _attempted = Math.Max(_attempted, from + batch.Length);
            }

            if (!_publisher.IsConnected)
            {
                return false;
            }

            var adds = new Task<FrameWriteStatus>[batch.Length];
            for (var i = 0; i < batch.Length; i++)
            {
                adds[i] = _publisher.AppendAsync(_generationId, batch[i].Seq, batch[i].Json, _settings.StreamMaxLength,
                    i == batch.Length - 1 ? _settings.ReplayWindow : null);
            }

            var added = 0;
            var failed = false;
            for (var i = 0; i < adds.Length; i++)
            {
                var status = await adds[i];
                if (failed)
                {
                    continue;
                }

                if (status == FrameWriteStatus.IdRefused && from + i >= attemptedBefore)
                {
                    // Refused the first time we tried it: another writer got there (see the class's rule).
                    _superseded = true;
                    return true;
                }

                if (status == FrameWriteStatus.NotWritten)
                {
                    failed = true;
                    continue;
                }

                added++;
            }

            lock (_gate)
            {
                _written = from + added;
            }

            if (!await PublishWrittenAsync() || failed)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// Decides where the recovery starts from the stream's ends (under the lock): sets <see cref="_superseded"/>, or
    /// <see cref="_written"/> to the first frame the stream misses; true when the stream must be re-created from the oldest
    /// frame kept.
    /// </summary>
    private bool Reconcile(StreamEnds? ends)
    {
        SkipLost();
        if (ends is not { } stream)
        {
            _written = _journal.First;
            return true;
        }

        var at = _journal.PositionOf(stream.LastSeq);
        if (stream.LastSeq > _lastSeq
            || (at >= 0 && !string.Equals(_journal[at].Json, stream.LastJson, StringComparison.Ordinal))
            || (at < 0 && _journal.End > _journal.First && stream.LastSeq >= _journal[_journal.First].Seq))
        {
            // Beyond our last frame, different from ours at that seq, or at a seq we never sent.
            _superseded = true;
            return false;
        }

        if (_journal.End > _journal.First && stream.FirstSeq > _journal[_journal.First].Seq)
        {
            // It lost frames we still hold (Redis restarted empty, then a late write of ours landed): start it again.
            _written = _journal.First;
            return true;
        }

        // Everything up to its last entry is there (ours, in order); ours in flight when Redis went away may be among it.
        _written = Math.Max(_journal.First, _journal.PositionAfter(stream.LastSeq));
        return false;
    }

    /// <summary>Frames dropped from the journal (an outage longer than the bound) are given up (under the lock).</summary>
    private void SkipLost()
    {
        _written = Math.Max(_written, _journal.First);
        _published = Math.Max(_published, _journal.First);
    }

    /// <summary>PUBLISHes, in order, the frames in the stream not yet known published; false when Redis failed.</summary>
    private async Task<bool> PublishWrittenAsync()
    {
        long from;
        (long Seq, string Json)[] frames;
        lock (_gate)
        {
            from = _published;
            frames = new (long, string)[Math.Max(0, _written - from)];
            for (var i = 0; i < frames.Length; i++)
            {
                frames[i] = _journal[from + i];
            }
        }

        if (frames.Length == 0)
        {
            return true;
        }

        var publishes = new Task<FrameWriteStatus>[frames.Length];
        for (var i = 0; i < frames.Length; i++)
        {
            publishes[i] = _publisher.PublishOnlyAsync(_conversationId, frames[i].Json);
        }

        var published = 0;
        var failed = false;
        foreach (var publish in publishes)
        {
            if (await publish == FrameWriteStatus.Written && !failed)
            {
                published++;
            }
            else
            {
                failed = true;
            }
        }

        lock (_gate)
        {
            _published = from + published;
        }

        return !failed;
    }

    /// <summary>The frames of one generation in send order, as (seq, JSON), by position; keeps the last
    /// <c>capacity</c> in a ring that grows by doubling.</summary>
    private sealed class FrameJournal(int capacity)
    {
        private (long Seq, string Json)[] _ring = new (long, string)[Math.Min(capacity, 64)];
        private int _head;

        /// <summary>Position of the oldest frame kept.</summary>
        public long First { get; private set; }

        /// <summary>Position after the newest frame (the number of frames added).</summary>
        public long End { get; private set; }

        public (long Seq, string Json) this[long position] => _ring[(int)((_head + (position - First)) % _ring.Length)];

        public void Add(long seq, string json)
        {
            var count = (int)(End - First);
            if (count == _ring.Length)
            {
                if (_ring.Length < capacity)
                {
                    var grown = new (long, string)[Math.Min(capacity, _ring.Length * 2)];
                    for (var i = 0; i < count; i++)
                    {
                        grown[i] = _ring[(_head + i) % _ring.Length];
                    }

                    _ring = grown;
                    _head = 0;
                }
                else
                {
                    _ring[_head] = default;
                    _head = (_head + 1) % _ring.Length;
                    First++;
                    count--;
                }
            }

            _ring[(_head + count) % _ring.Length] = (seq, json);
            End++;
        }

        /// <summary>The position of the first frame kept whose seq is greater than <paramref name="seq"/> (End if none).</summary>
        public long PositionAfter(long seq)
        {
            long lo = First, hi = End;
            while (lo < hi)
            {
                var mid = lo + ((hi - lo) / 2);
                if (this[mid].Seq <= seq)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }

            return lo;
        }

        /// <summary>The position of the frame kept with <paramref name="seq"/>, or -1.</summary>
        public long PositionOf(long seq)
        {
            var after = PositionAfter(seq);
            return after > First && this[after - 1].Seq == seq ? after - 1 : -1;
        }
    }
}
