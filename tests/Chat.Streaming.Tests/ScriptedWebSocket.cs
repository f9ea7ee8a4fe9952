using System.Threading.Channels;
using System.Net.WebSockets;
using System.Text;

namespace Chat.Streaming.Tests;

/// <summary>
/// A server-side WebSocket whose sends are recorded in order and can be held: while <see cref="HoldSends"/> is set,
/// each send returns an incomplete task that completes on <see cref="ReleaseHeldSends"/>, as Kestrel's flush does
/// when the client stops reading. Receives wait until <see cref="PeerCloses"/>.
/// </summary>
public sealed class ScriptedWebSocket : WebSocket
{
    private readonly Lock _gate = new();
    private readonly List<string> _sent = [];
    private readonly List<TaskCompletionSource> _held = [];
    private readonly TaskCompletionSource _peerClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<(byte[] Bytes, WebSocketMessageType Type)> _incoming = Channel.CreateUnbounded<(byte[], WebSocketMessageType)>();
    private byte[]? _reading; // the peer's frame being read, from _readOffset
    private WebSocketMessageType _readingType;
    private int _readOffset;
    private int _sending;
    private WebSocketState _state = WebSocketState.Open;

    public bool HoldSends { get; set; }

    /// <summary>Set when two sends were ever in flight at once (a WebSocket allows one).</summary>
    public bool OverlappingSends { get; private set; }

    public WebSocketCloseStatus? SentCloseStatus { get; private set; }

    public IReadOnlyList<string> Sent
    {
        get
        {
            lock (_gate)
            {
                return [.. _sent];
            }
        }
    }

    public int HeldCount
    {
        get
        {
            lock (_gate)
            {
                return _held.Count;
            }
        }
    }

    public void ReleaseHeldSends()
    {
        List<TaskCompletionSource> held;
        lock (_gate)
        {
            HoldSends = false;
            held = [.. _held];
            _held.Clear();
        }
        foreach (var send in held)
        {
            Interlocked.Decrement(ref _sending);
            send.TrySetResult(); // the send's task is complete when this returns; its continuations run elsewhere
        }
    }

    public void PeerCloses() => _peerClosed.TrySetResult();

    public override ValueTask SendAsync(ReadOnlyMemory<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _sending) > 1)
        {
            OverlappingSends = true;
        }
        TaskCompletionSource? hold = null;
        lock (_gate)
        {
            _sent.Add(Encoding.UTF8.GetString(buffer.Span));
            if (HoldSends)
            {
                hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _held.Add(hold);
            }
        }
        if (hold is null)
        {
            Interlocked.Decrement(ref _sending);
            return ValueTask.CompletedTask;
        }
        return new ValueTask(hold.Task);
    }

    /// <summary>Queues a text frame from the peer; the connection reads it as it reads a real one, zero-byte wait first.</summary>
    public void PeerSends(string text) => _incoming.Writer.TryWrite((Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text));

    /// <summary>Queues a binary frame from the peer.</summary>
    public void PeerSendsBinary(byte[] bytes) => _incoming.Writer.TryWrite((bytes, WebSocketMessageType.Binary));

    public override async ValueTask<ValueWebSocketReceiveResult> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (_reading is null)
        {
            var next = _incoming.Reader.ReadAsync(cancellationToken).AsTask();
            if (await Task.WhenAny(next, _peerClosed.Task.WaitAsync(cancellationToken)) != next)
            {
                _state = WebSocketState.CloseReceived;
                return new ValueWebSocketReceiveResult(0, WebSocketMessageType.Close, endOfMessage: true);
            }
            (_reading, _readingType) = await next;
            _readOffset = 0;
        }
        var count = Math.Min(buffer.Length, _reading.Length - _readOffset);
        _reading.AsMemory(_readOffset, count).CopyTo(buffer);
        _readOffset += count;
        var end = _readOffset == _reading.Length;
        if (end)
        {
            _reading = null;
        }
        return new ValueWebSocketReceiveResult(count, _readingType, end);
    }

    public override Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
    {
        SentCloseStatus = closeStatus;
        _state = _state == WebSocketState.CloseReceived ? WebSocketState.Closed : WebSocketState.CloseSent;
        return Task.CompletedTask;
    }

    public override Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) =>
        CloseOutputAsync(closeStatus, statusDescription, cancellationToken);

    public override void Abort()
    {
        _state = WebSocketState.Aborted;
        ReleaseHeldSends();
        PeerCloses();
    }

    public override WebSocketCloseStatus? CloseStatus => null;

    public override string? CloseStatusDescription => null;

    public override WebSocketState State => _state;

    public override string? SubProtocol => "chat.v1";

    public override void Dispose()
    {
    }

    public override Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken) =>
        SendAsync(buffer.AsMemory(), messageType, endOfMessage, cancellationToken).AsTask();
}
