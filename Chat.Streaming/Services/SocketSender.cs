using System.Net.WebSockets;

namespace Chat.Streaming.Services;

/// <summary>
/// A socket's sending side: a bounded <see cref="SendQueue"/> that one writer loop drains, so nothing but the writer ever
/// waits on the client's network, and the rule that sends a frame on the caller's thread when the socket is idle. It also
/// owns the close: the close frame goes out after the queue (or instead of it), and a peer that never answers is aborted.
/// </summary>
public sealed class SocketSender : IDisposable
{
    // Who may call SendAsync now.
    private const int SendIdle = 0;
    private const int SendInline = 1;
    private const int SendWriter = 2;

    private readonly WebSocket _socket;
    private readonly SendQueue _queue;
    private readonly StreamingTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly TimeSpan _closeTimeout;
    private CloseRequest? _close;
    private ITimer? _abortTimer; // made when the close is requested: an open socket does not pay for it
    private volatile bool _discardQueue;
    private int _sendSide; // SendIdle, SendInline or SendWriter
    private Task? _pendingSend; // an inline send that did not complete at once; only the send side's holder touches it

    public SocketSender(WebSocket socket, int capacity, StreamingTelemetry telemetry, TimeProvider time, TimeSpan closeTimeout)
    {
        _socket = socket;
        // Live frames never wait: a full queue is the slow-consumer signal. Replays wait until it is half empty.
        _queue = new SendQueue(capacity);
        _telemetry = telemetry;
        _time = time;
        _closeTimeout = closeTimeout;
    }

    /// <summary>The close asked for first, or null while the socket is open.</summary>
    public CloseRequest? Close => _close;

    public bool IsClosing => _close is not null;

    /// <summary>Frames waiting in the queue (racy, as any count read outside the queue's lock).</summary>
    public int Queued => _queue.Count;

    public int Capacity => _queue.Capacity;

    /// <summary>True while the writer loop holds the send side (tests: it has woken and sends or awaits a send).</summary>
    internal bool WriterHoldsSendSide => Volatile.Read(ref _sendSide) == SendWriter;

    /// <summary>Sends <paramref name="frame"/> inline or queues it; false when the queue is full or the socket is closing.</summary>
    public bool TrySend(ReadOnlyMemory<byte> frame) => TrySendInline(frame) || _queue.TryWrite(frame);

    /// <summary>
    /// Closes with <paramref name="code"/> once the queued frames are sent (<paramref name="drain"/>) or at once; either
    /// way the socket is aborted if the close does not finish in time. False when a close was already requested.
    /// </summary>
    public bool RequestClose(int code, string reason, bool drain)
    {
        if (Interlocked.CompareExchange(ref _close, new CloseRequest(code, reason), null) is not null)
        {
            return false;
        }
        if (!drain)
        {
            _discardQueue = true;
        }
        _queue.TryComplete();
        // A peer that never answers the close, or stops reading mid-send, is cut off. Made once: only the first close
        // request gets here, and the connection's own close request comes before it is disposed.
        _abortTimer = _time.CreateTimer(static socket => ((WebSocket)socket!).Abort(), _socket, _closeTimeout * 2, Timeout.InfiniteTimeSpan);
        return true;
    }

    public void Dispose() => Interlocked.Exchange(ref _abortTimer, null)?.Dispose();

    /// <summary>
    /// Sends <paramref name="frame"/> on the caller's thread when nothing is queued or being sent. Kestrel copies a small
    /// frame into its output pipe and returns at once, so the common case costs no wake-up of the writer loop, one
    /// thread-pool hop less per frame. Each producer's order holds: its frame goes inline only while the queue is empty
    /// (so none of its earlier frames waits there) and nobody else is sending, and a send that does not finish at once is
    /// awaited by the writer loop before anything after it. False when the frame must be queued instead.
    /// </summary>
    private bool TrySendInline(ReadOnlyMemory<byte> frame)
    {
        if (_close is not null || _queue.Count != 0
            || Interlocked.CompareExchange(ref _sendSide, SendInline, SendIdle) != SendIdle)
        {
            return false;
        }
        try
        {
            if (_pendingSend is { } pending)
            {
                if (!pending.IsCompletedSuccessfully)
                {
                    return false; // still in flight (or failed): the writer loop awaits it before what queues behind it
                }
                _pendingSend = null;
            }
            var sending = _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
            if (sending.IsCompletedSuccessfully)
            {
                sending.GetAwaiter().GetResult();
            }
            else
            {
                _pendingSend = sending.AsTask(); // back-pressure: later frames queue behind it until the writer loop has awaited it
            }
            _telemetry.FramesSent.Add(1);
            return true;
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException)
        {
            return false; // the socket failed under us: queued, the frame meets the same end as every other one
        }
        finally
        {
            Volatile.Write(ref _sendSide, SendIdle);
        }
    }

    /// <summary>Drains the queue until the close, then sends the close frame; ends when the socket is done with.</summary>
    public async Task RunAsync()
    {
        try
        {
            while (await _queue.WaitToReadAsync())
            {
                AcquireSendSide();
                try
                {
                    await FinishPendingSendAsync();
                    while (!_discardQueue && _queue.TryRead(out var frame))
                    {
                        await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
                        _telemetry.FramesSent.Add(1);
                    }
                }
                finally
                {
                    Volatile.Write(ref _sendSide, SendIdle);
                }
                if (_discardQueue)
                {
                    break;
                }
            }
            // Closing: keep the send side for good (no inline send starts once _close is set), and let the last inline
            // send finish before the close frame.
            AcquireSendSide();
            await FinishPendingSendAsync();
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            return;
        }
        await SendCloseAsync();
    }

    private async Task SendCloseAsync()
    {
        if (_close is not { } close || _socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }
        try
        {
            using var timeout = new CancellationTokenSource(_closeTimeout);
            await _socket.CloseOutputAsync((WebSocketCloseStatus)close.Code, close.Reason, timeout.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            _socket.Abort();
        }
    }

    /// <summary>Takes the send side from an inline sender, which holds it only for the length of a synchronous call.</summary>
    private void AcquireSendSide()
    {
        var spin = new SpinWait();
        while (Interlocked.CompareExchange(ref _sendSide, SendWriter, SendIdle) != SendIdle)
        {
            spin.SpinOnce();
        }
    }

    /// <summary>Awaits the inline send still in flight, if any; only the send side's holder calls it.</summary>
    private Task FinishPendingSendAsync()
    {
        var pending = _pendingSend;
        _pendingSend = null;
        return pending ?? Task.CompletedTask;
    }
}

/// <summary>How a connection is to be closed: the WebSocket close code and reason.</summary>
public sealed record CloseRequest(int Code, string Reason);
