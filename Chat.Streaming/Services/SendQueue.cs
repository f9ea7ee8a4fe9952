using System.Threading.Tasks.Sources;

namespace Chat.Streaming.Services;

/// <summary>
/// A connection's bounded queue of frames to send: any thread may add, one writer loop takes. It does what the
/// connection used from <c>Channel.CreateBounded</c> (never-waiting writes, one waiting reader, completion) and no more,
/// because a socket holds its queue for hours and an idle one is almost always empty. A bounded channel holds about
/// 0.9 KB of reader, writer and waiter objects per socket; this keeps one object, and its array only from the first
/// frame that had to wait.
/// </summary>
public sealed class SendQueue(int capacity) : IValueTaskSource<bool>, IThreadPoolWorkItem
{
    private readonly Lock _lock = new();
    private ReadOnlyMemory<byte>[]? _items; // a ring, grown by doubling up to capacity
    private int _head;
    private int _count;
    private bool _completed;
    private bool _readerWaiting;

    // The reader's continuation runs on a thread-pool thread taken from the global queue (Execute), as a channel's does:
    // the writer is often the Redis fan-out loop, and the core's own "run asynchronously" queues to the calling thread's
    // local queue, where a conversation's writers would wait for the fan-out of a broadcast to finish.
    private ManualResetValueTaskSourceCore<bool> _wait;

    public int Capacity { get; } = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity));

    /// <summary>Frames waiting; a racy read, as <c>ChannelReader.Count</c> is to a caller outside its lock.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Adds a frame unless the queue is full or completed; never waits.</summary>
    public bool TryWrite(ReadOnlyMemory<byte> frame)
    {
        bool wake;
        lock (_lock)
        {
            if (_completed || _count == Capacity)
            {
                return false;
            }
            if (_items is null || _count == _items.Length)
            {
                Grow();
            }
            _items![(_head + _count) % _items.Length] = frame;
            Volatile.Write(ref _count, _count + 1);
            wake = ReleaseWaiter();
        }
        Wake(wake);
        return true;
    }

    /// <summary>No more frames will be added; the reader still takes what is queued. False if already completed.</summary>
    public bool TryComplete()
    {
        bool wake;
        lock (_lock)
        {
            if (_completed)
            {
                return false;
            }
            _completed = true;
            wake = ReleaseWaiter();
        }
        Wake(wake);
        return true;
    }

    /// <summary>Takes the oldest frame. Only the single reader calls it.</summary>
    public bool TryRead(out ReadOnlyMemory<byte> frame)
    {
        lock (_lock)
        {
            if (_count == 0)
            {
                frame = default;
                return false;
            }
            frame = _items![_head];
            _items[_head] = default; // the frame's bytes are not held after it is sent
            _head = (_head + 1) % _items.Length;
            Volatile.Write(ref _count, _count - 1);
            return true;
        }
    }

    /// <summary>
    /// True once a frame is queued; false once the queue is completed and empty. Only the single reader calls it, and
    /// only one wait is outstanding at a time.
    /// </summary>
    public ValueTask<bool> WaitToReadAsync()
    {
        lock (_lock)
        {
            if (_count > 0)
            {
                return new ValueTask<bool>(true);
            }
            if (_completed)
            {
                return new ValueTask<bool>(false);
            }
            if (_readerWaiting)
            {
                throw new InvalidOperationException("The send queue has one reader, and it is already waiting.");
            }
            _wait.Reset();
            _readerWaiting = true;
            return new ValueTask<bool>(this, _wait.Version);
        }
    }

    /// <summary>Under the lock: whether a waiting reader is to be woken (and is no longer waiting).</summary>
    private bool ReleaseWaiter()
    {
        var waiting = _readerWaiting;
        _readerWaiting = false;
        return waiting;
    }

    private void Wake(bool wake)
    {
        if (wake)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    private void Grow()
    {
        var size = _items is null ? Math.Min(8, Capacity) : Math.Min(_items.Length * 2, Capacity);
        var grown = new ReadOnlyMemory<byte>[size];
        for (var i = 0; i < _count; i++)
        {
            grown[i] = _items![(_head + i) % _items.Length];
        }
        _items = grown;
        _head = 0;
    }

    // The reader is waiting, so nothing is taken meanwhile: frames queued means a write woke it, none means completion.
    void IThreadPoolWorkItem.Execute() => _wait.SetResult(Volatile.Read(ref _count) > 0);

    bool IValueTaskSource<bool>.GetResult(short token) => _wait.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _wait.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _wait.OnCompleted(continuation, state, token, flags);
}
