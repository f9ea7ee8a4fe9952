using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Chat.IntegrationTests;

/// <summary>A chat.v1 WebSocket client for tests: frames arrive in a channel; every wait is bounded.</summary>
public sealed class StreamingTestClient : IAsyncDisposable
{
    public static readonly TimeSpan FrameTimeout = TimeSpan.FromSeconds(15);

    private readonly Channel<JsonElement> _frames = Channel.CreateUnbounded<JsonElement>();
    private readonly CancellationTokenSource _stop = new();
    private Task _receive = Task.CompletedTask;
    private int _disposed;

    private StreamingTestClient(ClientWebSocket socket) => Socket = socket;

    public ClientWebSocket Socket { get; }

    /// <summary>The replica that holds this socket, from the <c>hello</c> frame.</summary>
    public string Instance { get; private set; } = "";

    public JsonElement Hello { get; private set; }

    public static Uri WsUri(Uri gateway, string? token, bool tokenInQuery = true)
    {
        var builder = new UriBuilder(gateway) { Scheme = "ws", Path = "/ws" };
        if (token is not null && tokenInQuery)
        {
            builder.Query = "access_token=" + Uri.EscapeDataString(token);
        }
        return builder.Uri;
    }

    public static async Task<StreamingTestClient> ConnectAsync(Uri gateway, string? token, bool tokenInQuery = true, bool expectHello = true)
    {
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("chat.v1");
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        if (token is not null && !tokenInQuery)
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        }
        using var cts = new CancellationTokenSource(ChatAppFixture.StepTimeout);
        await socket.ConnectAsync(WsUri(gateway, token, tokenInQuery), cts.Token);
        var client = new StreamingTestClient(socket);
        client._receive = client.ReceiveLoopAsync();
        if (expectHello)
        {
            client.Hello = await client.NextAsync("hello");
            client.Instance = client.Hello.GetProperty("instance").GetString()!;
        }
        return client;
    }

    /// <summary>Connects until the gateway puts the socket on a replica other than <paramref name="instance"/>.</summary>
    public static Task<StreamingTestClient> ConnectElsewhereAsync(Uri gateway, string token, string instance) =>
        ConnectWhereAsync(gateway, token, landed => landed != instance, $"all landed on {instance}");

    /// <summary>Connects until the gateway puts the socket on the replica <paramref name="instance"/>.</summary>
    public static Task<StreamingTestClient> ConnectOnAsync(Uri gateway, string token, string instance) =>
        ConnectWhereAsync(gateway, token, landed => landed == instance, $"missed {instance}");

    private static async Task<StreamingTestClient> ConnectWhereAsync(Uri gateway, string token, Func<string, bool> accept, string failure)
    {
        var spare = new List<StreamingTestClient>();
        try
        {
            for (var attempt = 0; attempt < 40; attempt++)
            {
                var client = await ConnectAsync(gateway, token);
                if (accept(client.Instance))
                {
                    return client;
                }
                spare.Add(client); // keep it open so the next connection is not handed the same pooled connection
            }
            throw new InvalidOperationException($"40 connections {failure}: is chat-streaming running 2 replicas?");
        }
        finally
        {
            foreach (var client in spare)
            {
                await client.DisposeAsync();
            }
        }
    }

    public WebSocketCloseStatus? CloseStatus => Socket.CloseStatus;

    public Task SendAsync(object frame) => SendRawAsync(JsonSerializer.Serialize(frame));

    public async Task SendRawAsync(string text, WebSocketMessageType type = WebSocketMessageType.Text)
    {
        using var cts = new CancellationTokenSource(FrameTimeout);
        await Socket.SendAsync(Encoding.UTF8.GetBytes(text), type, true, cts.Token);
    }

    /// <summary>The next frame that is not a heartbeat; asserts its type when given.</summary>
    public async Task<JsonElement> NextAsync(string? type = null, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? FrameTimeout);
        while (true)
        {
            var frame = await _frames.Reader.ReadAsync(cts.Token);
            if (frame.GetProperty("type").GetString() == "heartbeat")
            {
                continue;
            }
            if (type is not null)
            {
                Assert.True(frame.GetProperty("type").GetString() == type, $"expected {type}, got {frame}");
            }
            return frame;
        }
    }

    /// <summary>Skips frames until one matches.</summary>
    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? FrameTimeout);
        while (true)
        {
            var frame = await _frames.Reader.ReadAsync(cts.Token);
            if (match(frame))
            {
                return frame;
            }
        }
    }

    /// <summary>Reads one generation's frames (started/chunks/terminal) until its terminal frame.</summary>
    public async Task<List<JsonElement>> ReadGenerationAsync(Guid generationId, TimeSpan? timeout = null, Action<long>? onSeq = null) =>
        (await ReadGenerationUnlessAsync(generationId, _ => false, timeout, onSeq))!;

    /// <summary>
    /// Reads one generation's frames until its terminal frame; null if a frame matching <paramref name="giveUp"/> comes
    /// first. <paramref name="timeout"/> bounds the whole read.
    /// </summary>
    public async Task<List<JsonElement>?> ReadGenerationUnlessAsync(
        Guid generationId, Func<JsonElement, bool> giveUp, TimeSpan? timeout = null, Action<long>? onSeq = null)
    {
        var frames = new List<JsonElement>();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var frame = await _frames.Reader.ReadAsync(cts.Token);
            if (giveUp(frame))
            {
                return null;
            }
            if (!frame.TryGetProperty("generationId", out var g) || g.GetString() != generationId.ToString() || !frame.TryGetProperty("seq", out _))
            {
                continue;
            }
            frames.Add(frame);
            onSeq?.Invoke(frame.GetProperty("seq").GetInt64());
            if (frame.GetProperty("type").GetString() is "generation.completed" or "generation.failed" or "generation.cancelled")
            {
                return frames;
            }
        }
    }

    /// <summary>Round-trips a ping: proves the connection still works and that nothing else was queued before it.</summary>
    public async Task<List<JsonElement>> PingAsync(string id = "p")
    {
        await SendAsync(new { type = "ping", id });
        var before = new List<JsonElement>();
        while (true)
        {
            var frame = await NextAsync();
            if (frame.GetProperty("type").GetString() == "pong" && frame.GetProperty("id").GetString() == id)
            {
                return before;
            }
            before.Add(frame);
        }
    }

    public async Task<WebSocketCloseStatus?> WaitClosedAsync(TimeSpan? timeout = null)
    {
        await _receive.WaitAsync(timeout ?? FrameTimeout);
        return Socket.CloseStatus;
    }

    public void Abort() => Socket.Abort();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        if (Socket.State == WebSocketState.Open)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
        }
        try
        {
            await _receive.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            Socket.Abort();
        }
        await _stop.CancelAsync();
        _stop.Dispose();
        Socket.Dispose();
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await Socket.ReceiveAsync(buffer, _stop.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    if (Socket.State == WebSocketState.CloseReceived)
                    {
                        await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "ok", CancellationToken.None);
                    }
                    return;
                }
                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    using var document = JsonDocument.Parse(message.ToArray());
                    _frames.Writer.TryWrite(document.RootElement.Clone());
                    message.SetLength(0);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            _frames.Writer.TryComplete();
        }
    }
}
