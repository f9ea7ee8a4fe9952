using Chat.Messaging.Contracts;

namespace Chat.Streaming.Services;

/// <summary>
/// One connection's subscription to one conversation. Live frames from the replica's shared Redis subscription arrive
/// through <see cref="Deliver"/>; while <see cref="Pause"/>d (a replay or a message.send is in flight) they are buffered,
/// and <see cref="Resume"/> drains the buffer after whatever must come first. Per generation it remembers the last seq
/// it passed on, so a frame is never sent twice however replay and live overlap.
/// </summary>
public sealed class Subscription(Guid conversationId, IFrameSink sink, int bufferCapacity)
{
    private const int MaxTrackedGenerations = 64;

    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, long> _lastSeq = [];
    private List<LiveFrame>? _buffer;
    private int _pauses;
    private bool _closed;

    public Guid ConversationId { get; } = conversationId;

    public IFrameSink Sink { get; } = sink;

    /// <summary>Called by the replica's conversation topic, in publication order.</summary>
    public void Deliver(LiveFrame frame)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            if (_buffer is not null)
            {
                if (_buffer.Count >= bufferCapacity)
                {
                    _closed = true;
                    Sink.Overflowed();
                    return;
                }
                _buffer.Add(frame);
                return;
            }
            Forward(frame);
        }
    }

    /// <summary>
    /// Queues a <see cref="LiveFrame.Control"/> frame (stream.interrupted, stream.restored) in order with the generation
    /// frames: behind the buffered ones while paused, else at once.
    /// </summary>
    public void Notify(LiveFrame control)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            if (_buffer is not null)
            {
                _buffer.Add(control); // a handful per outage: not counted against the live-frame capacity
                return;
            }
            Send(control);
        }
    }

    /// <summary>Holds live frames back until the matching <see cref="Resume"/>.</summary>
    public void Pause()
    {
        lock (_gate)
        {
            _pauses++;
            _buffer ??= [];
        }
    }

    /// <summary>The client holds a generation up to <paramref name="after"/>: later frames of it may be sent again.</summary>
    public void Rewind(Guid generationId, long after)
    {
        lock (_gate)
        {
            _lastSeq[generationId] = after;
        }
    }

    /// <summary>Marks a replayed frame as sent (its bytes go to the queue with back-pressure, outside the lock).</summary>
    public bool AcceptReplayed(LiveFrame frame)
    {
        lock (_gate)
        {
            if (_lastSeq.TryGetValue(frame.GenerationId, out var last) && FrameSequence.IsDuplicate(last, frame.Seq))
            {
                return false;
            }
            _lastSeq[frame.GenerationId] = frame.Seq;
            return true;
        }
    }

    /// <summary>Ends one pause: runs <paramref name="first"/> (frames that must precede the buffered ones) then drains.</summary>
    public void Resume(Action? first = null)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            first?.Invoke();
            if (--_pauses > 0 || _buffer is null)
            {
                return;
            }
            var buffered = _buffer;
            _buffer = null;
            foreach (var frame in buffered)
            {
                if (frame.IsControl)
                {
                    Send(frame);
                }
                else
                {
                    Forward(frame);
                }
                if (_closed)
                {
                    return;
                }
            }
        }
    }

    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
            _buffer = null;
        }
    }

    private void Forward(LiveFrame frame)
    {
        if (_lastSeq.TryGetValue(frame.GenerationId, out var last) && FrameSequence.IsDuplicate(last, frame.Seq))
        {
            return; // already sent (replay overlap or a duplicate publication)
        }
        if (_lastSeq.Count >= MaxTrackedGenerations && !_lastSeq.ContainsKey(frame.GenerationId))
        {
            _lastSeq.Clear();
        }
        _lastSeq[frame.GenerationId] = frame.Seq;
        Sink.NoteGeneration(frame.GenerationId, frame.ConversationId);
        Send(frame);
    }

    private void Send(LiveFrame frame)
    {
        if (!Sink.TryEnqueue(frame.Utf8))
        {
            _closed = true;
        }
    }
}
