using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Chat.Bench.Baselines.RawWs;

/// <summary><c>/ws</c>: accepts <c>{"type":"subscribe","conversationId":...}</c>, answers <c>subscribed</c>, forwards frames.</summary>
internal static class RawSocketEndpoint
{
    private const string SubProtocol = "chat.v1";
    private const string ChannelPrefix = "chat:conv:";

    public static async Task HandleAsync(HttpContext context, ConversationRooms rooms, IOptions<RawWsOptions> options)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
            return;
        }

        var protocol = context.WebSockets.WebSocketRequestedProtocols.Contains(SubProtocol) ? SubProtocol : null;
        using var socket = await context.WebSockets.AcceptWebSocketAsync(protocol);
        var connection = new SocketSink(socket, options.Value.SendQueueCapacity);
        var joined = new List<string>();
        try
        {
            await ReceiveLoopAsync(socket, connection, rooms, joined, context.RequestAborted);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            // The client went away; leaving the rooms below is all there is to do.
        }
        finally
        {
            foreach (var channel in joined)
            {
                await rooms.LeaveAsync(channel, connection);
            }
            await connection.CompleteAsync();
            if (socket.State == WebSocketState.CloseReceived)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            }
        }
    }

    private static async Task ReceiveLoopAsync(WebSocket socket, SocketSink connection, ConversationRooms rooms, List<string> joined, CancellationToken ct)
    {
        while (socket.State == WebSocketState.Open)
        {
            // Waits for the next frame holding no buffer (a zero-byte receive, as SignalR and Chat do), so an idle
            // socket costs what Kestrel and the subscription cost and nothing more.
            var result = await socket.ReceiveAsync(Memory<byte>.Empty, ct);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return; // Answered once the frames taken are sent (one sender at a time).
            }
            var buffer = ArrayPool<byte>.Shared.Rent(4096);
            try
            {
                var count = 0;
                while (!result.EndOfMessage)
                {
                    if (count == buffer.Length)
                    {
                        return; // Client frames here are tiny; anything larger is not ours to serve.
                    }
                    result = await socket.ReceiveAsync(buffer.AsMemory(count), ct);
                    count += result.Count;
                }

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                if (TryReadSubscribe(buffer.AsSpan(0, count), out var conversationId, out var id))
                {
                    var channel = ChannelPrefix + conversationId.ToString("N");
                    await rooms.JoinAsync(channel, connection);
                    joined.Add(channel);
                    connection.TryEnqueue(Encoding.UTF8.GetBytes(
                        $$"""{"type":"subscribed","id":{{JsonSerializer.Serialize(id)}},"conversationId":"{{conversationId}}"}"""));
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private static bool TryReadSubscribe(ReadOnlySpan<byte> json, out Guid conversationId, out string? id)
    {
        conversationId = Guid.Empty;
        id = null;
        try
        {
            using var document = JsonDocument.Parse(json.ToArray());
            var root = document.RootElement;
            if (root.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String)
            {
                id = idElement.GetString();
            }
            return root.TryGetProperty("type", out var type) && type.ValueEquals("subscribe")
                && root.TryGetProperty("conversationId", out var conversation) && conversation.TryGetGuid(out conversationId);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// One socket's sending side, the fastest obvious way: a frame for an idle socket is sent on the caller's thread (Kestrel
    /// copies a small frame into its output pipe and returns at once); frames that arrive while a send is in flight wait in
    /// a bounded queue that the sender drains before it lets go. No thread-pool hop unless the network pushes back.
    /// </summary>
    private sealed class SocketSink(WebSocket socket, int capacity) : IFrameSink
    {
        private readonly Lock _lock = new();
        private readonly Queue<ReadOnlyMemory<byte>> _queue = new();
        private bool _busy; // someone is sending; new frames queue behind it
        private bool _completed;
        private Task _draining = Task.CompletedTask; // set only by the holder of _busy

        public bool TryEnqueue(ReadOnlyMemory<byte> frame)
        {
            lock (_lock)
            {
                if (_completed)
                {
                    return false;
                }
                if (_busy)
                {
                    if (_queue.Count == capacity)
                    {
                        // Too slow: drop the connection rather than buffer without bound (the client sees the loss).
                        socket.Abort();
                        return false;
                    }
                    _queue.Enqueue(frame);
                    return true;
                }
                _busy = true;
            }

            ValueTask sending;
            try
            {
                sending = socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
            }
            catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException)
            {
                socket.Abort();
                return false;
            }
            if (!sending.IsCompletedSuccessfully)
            {
                _draining = DrainAsync(sending);
                return true;
            }
            sending.GetAwaiter().GetResult();
            lock (_lock)
            {
                if (_queue.Count == 0)
                {
                    _busy = false;
                    return true;
                }
            }
            _draining = DrainAsync(ValueTask.CompletedTask); // frames queued meanwhile (another room's): send them now
            return true;
        }

        /// <summary>No more frames; waits for the frames already taken to be sent (a send that starts as the socket goes
        /// away may be cut short: its client is gone).</summary>
        public Task CompleteAsync()
        {
            lock (_lock)
            {
                _completed = true;
                return _busy ? Volatile.Read(ref _draining) : Task.CompletedTask;
            }
        }

        /// <summary>Awaits the send in flight, then sends what queued behind it, then lets go of the socket.</summary>
        private async Task DrainAsync(ValueTask inFlight)
        {
            try
            {
                await inFlight;
                while (true)
                {
                    ReadOnlyMemory<byte> next;
                    lock (_lock)
                    {
                        if (!_queue.TryDequeue(out next))
                        {
                            _busy = false;
                            return;
                        }
                    }
                    await socket.SendAsync(next, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
            {
                socket.Abort();
            }
        }
    }
}
