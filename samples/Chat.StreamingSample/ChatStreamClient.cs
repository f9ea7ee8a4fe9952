using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Chat.StreamingSample;

/// <summary>
/// A minimal chat.v1 client: connect (token in the query, as a browser would), send a message, stream its generation,
/// and — when the socket drops — reconnect (to any replica) and resume with <c>generationId</c> + <c>after</c> so every
/// chunk arrives exactly once. It keeps, per generation, the last seq it has seen: that is all resume needs.
/// </summary>
public sealed class ChatStreamClient(Uri gateway, Func<CancellationToken, Task<string>> tokenProvider) : IAsyncDisposable
{
    public const string SubProtocol = "chat.v1";

    private ClientWebSocket? _socket;

    public string? Instance { get; private set; }

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        if (_socket is not null)
        {
            await DisposeAsync();
        }
        var token = await tokenProvider(cancellationToken);
        var uri = new UriBuilder(gateway) { Scheme = gateway.Scheme == "https" ? "wss" : "ws", Path = "/ws", Query = "access_token=" + Uri.EscapeDataString(token) }.Uri;
        _socket = new ClientWebSocket();
        _socket.Options.AddSubProtocol(SubProtocol);
        await _socket.ConnectAsync(uri, cancellationToken);
        var hello = await ReceiveAsync(cancellationToken) ?? throw new WebSocketException("closed before hello");
        Instance = hello["instance"]?.GetValue<string>();
    }

    public Task SendAsync(object frame, CancellationToken cancellationToken) =>
        _socket!.SendAsync(JsonSerializer.SerializeToUtf8Bytes(frame), WebSocketMessageType.Text, true, cancellationToken);

    /// <summary>Sends a message and returns the <c>ack</c> (with the generation id), or throws on an <c>error</c> frame.</summary>
    public async Task<JsonNode> SendMessageAsync(Guid conversationId, string content, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid().ToString("N");
        await SendAsync(new { type = "message.send", id, conversationId, content, clientMessageId = Guid.NewGuid().ToString() }, cancellationToken);
        while (await ReceiveAsync(cancellationToken) is { } frame)
        {
            var type = frame["type"]?.GetValue<string>();
            if (frame["id"]?.ToString() == id && type is "ack" or "error")
            {
                return type == "ack" ? frame : throw new InvalidOperationException($"{frame["code"]}: {frame["message"]}");
            }
        }
        throw new WebSocketException("closed before ack");
    }

    /// <summary>
    /// Yields the generation's frames after <paramref name="after"/> until its terminal frame, resuming on another
    /// connection whenever this one drops. Yields nothing more when the replay window has passed (<c>recovered:false</c>)
    /// or the generation's frames were lost with Redis (<c>stream.restored</c> naming it): load the message over REST instead.
    /// </summary>
    public async IAsyncEnumerable<JsonNode> StreamAsync(Guid conversationId, Guid generationId, long after, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var resume = false;
        while (true)
        {
            if (resume)
            {
                await ConnectAsync(cancellationToken);
                await SendAsync(new { type = "subscribe", conversationId, generationId, after }, cancellationToken);
            }
            resume = true;
            while (true)
            {
                JsonNode? frame;
                try
                {
                    frame = await ReceiveAsync(cancellationToken);
                }
                catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException)
                {
                    frame = null; // an aborted socket throws either
                }
                if (frame is null)
                {
                    break; // dropped (or closed with 1012 / 4008): reconnect and resume
                }
                var type = frame["type"]?.GetValue<string>();
                if (type == "subscribed" && frame["recovered"]?.GetValue<bool>() == false)
                {
                    yield break;
                }
                // stream.interrupted: the replica lost Redis; stay connected, resend nothing, frames are only delayed.
                // stream.restored without recovered: this generation's frames were lost with Redis: load it over REST.
                if (type == "stream.restored" && frame["recovered"]?.GetValue<bool>() == false
                    && frame["generationIds"]?.AsArray().Any(g => g?.ToString() == generationId.ToString()) == true)
                {
                    yield break;
                }
                if (frame["generationId"]?.ToString() != generationId.ToString() || frame["seq"] is null)
                {
                    continue;
                }
                var seq = frame["seq"]!.GetValue<long>();
                if (seq <= after)
                {
                    continue;
                }
                after = seq;
                yield return frame;
                if (type is "generation.completed" or "generation.failed" or "generation.cancelled")
                {
                    yield break;
                }
            }
        }
    }

    /// <summary>Drops the connection without a goodbye, as a network failure would (for the demo).</summary>
    public void Abort() => _socket?.Abort();

    private async Task<JsonNode?> ReceiveAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await _socket!.ReceiveAsync(buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }
            message.Write(buffer, 0, result.Count);
            if (!result.EndOfMessage)
            {
                continue;
            }
            var node = JsonNode.Parse(Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length));
            message.SetLength(0);
            if (node?["type"]?.GetValue<string>() is "heartbeat")
            {
                continue;
            }
            return node;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket is { State: WebSocketState.Open })
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
        }
        _socket?.Dispose();
        _socket = null;
    }
}
