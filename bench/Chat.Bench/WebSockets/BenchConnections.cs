using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using Chat.Bench.Baselines.SignalRPeer;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

namespace Chat.Bench.WebSockets;

/// <summary>One client socket subscribed to one conversation, feeding a <see cref="FrameTracker"/>.</summary>
public interface IBenchConnection : IAsyncDisposable
{
    FrameTracker Tracker { get; }

    Guid ConversationId { get; }

    bool IsOpen { get; }

    /// <summary>Connects and subscribes; completes once the server confirmed the subscription.</summary>
    Task ConnectAsync(CancellationToken ct);
}

/// <summary>
/// The chat.v1 client (Chat's <c>/ws</c> and the raw baseline speak the same subscribe frame): connect with the
/// <c>chat.v1</c> subprotocol (and <c>access_token</c> for Chat), send <c>subscribe</c>, wait for <c>subscribed</c>.
/// </summary>
public sealed class ChatProtocolConnection(Uri uri, Guid conversationId, FrameTracker tracker, HttpMessageInvoker invoker) : IBenchConnection
{
    private const int InitialBuffer = 4096;
    private readonly ClientWebSocket _socket = new();
    private Task _receiving = Task.CompletedTask;

    public FrameTracker Tracker => tracker;

    public Guid ConversationId => conversationId;

    public bool IsOpen => _socket.State == WebSocketState.Open;

    public async Task ConnectAsync(CancellationToken ct)
    {
        _socket.Options.AddSubProtocol("chat.v1");
        _socket.Options.SetBuffer(InitialBuffer, 1024);
        await _socket.ConnectAsync(uri, invoker, ct);
        _receiving = ReceiveLoopAsync();
        var subscribe = Encoding.UTF8.GetBytes($$"""{"type":"subscribe","id":"s1","conversationId":"{{conversationId}}"}""");
        await _socket.SendAsync(subscribe, WebSocketMessageType.Text, endOfMessage: true, ct);
        await tracker.Subscribed.Task.WaitAsync(ct);
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(InitialBuffer);
        try
        {
            while (true)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (count == buffer.Length)
                    {
                        var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, count).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = larger;
                    }
                    result = await _socket.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
                    count += result.Count;
                }
                while (!result.EndOfMessage);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    tracker.Subscribed.TrySetException(new InvalidOperationException(
                        $"Closed by the server: {_socket.CloseStatus} {_socket.CloseStatusDescription}"));
                    return;
                }
                tracker.OnFrame(buffer.AsSpan(0, count));
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            tracker.Subscribed.TrySetException(ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bench done", timeout.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                _socket.Abort();
            }
        }
        try
        {
            await _receiving.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            _socket.Abort();
            await _receiving;
        }
        _socket.Dispose();
    }
}

/// <summary>The SignalR peer's client: WebSockets transport (no negotiate round trip), joins the conversation's group.</summary>
public sealed class SignalRConnection : IBenchConnection
{
    private readonly HubConnection _hub;
    private readonly Guid _conversationId;
    private readonly FrameTracker _tracker;

    public SignalRConnection(Uri baseUrl, Guid conversationId, FrameTracker tracker)
    {
        _conversationId = conversationId;
        _tracker = tracker;
        _hub = new HubConnectionBuilder()
            .WithUrl(new Uri(baseUrl, PeerProtocol.HubPath), HttpTransportType.WebSockets, o => o.SkipNegotiation = true)
            .Build();
        _hub.On<string>(PeerProtocol.FrameMethod, OnFrame);
        _hub.Closed += ex =>
        {
            tracker.Subscribed.TrySetException(ex ?? new InvalidOperationException("Closed by the server."));
            return Task.CompletedTask;
        };
    }

    public FrameTracker Tracker => _tracker;

    public Guid ConversationId => _conversationId;

    public bool IsOpen => _hub.State == HubConnectionState.Connected;

    public async Task ConnectAsync(CancellationToken ct)
    {
        await _hub.StartAsync(ct);
        await _hub.InvokeAsync(PeerProtocol.SubscribeMethod, _conversationId, ct);
        _tracker.Subscribed.TrySetResult();
    }

    private void OnFrame(string json)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(json.Length));
        try
        {
            var count = Encoding.UTF8.GetBytes(json, buffer);
            _tracker.OnFrame(buffer.AsSpan(0, count));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _hub.StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // Disposing below tears the transport down regardless.
        }
        await _hub.DisposeAsync();
    }
}
