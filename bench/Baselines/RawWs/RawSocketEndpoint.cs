using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
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
        var sending = connection.SendLoopAsync(context.RequestAborted);
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
            connection.Complete();
            await sending;
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
                return; // Answered once the send loop has drained (one sender at a time).
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

    /// <summary>One socket's bounded send queue and the loop that drains it.</summary>
    private sealed class SocketSink(WebSocket socket, int capacity) : IFrameSink
    {
        private readonly Channel<ReadOnlyMemory<byte>> _queue = Channel.CreateBounded<ReadOnlyMemory<byte>>(
            new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

        public bool TryEnqueue(ReadOnlyMemory<byte> frame)
        {
            if (_queue.Writer.TryWrite(frame))
            {
                return true;
            }
            // Too slow: drop the connection rather than buffer without bound (the client sees the loss).
            socket.Abort();
            return false;
        }

        public void Complete() => _queue.Writer.TryComplete();

        public async Task SendLoopAsync(CancellationToken ct)
        {
            try
            {
                await foreach (var frame in _queue.Reader.ReadAllAsync(ct))
                {
                    await socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, ct);
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
            {
                socket.Abort();
            }
        }
    }
}
