using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Threading.RateLimiting;
using Chat.Messaging;
using Chat.ServiceDefaults.Authentication;
using Chat.Streaming.Infrastructure;
using Chat.Streaming.Protocol;
using Chat.Streaming.Services.Frames;
using StackExchange.Redis;

namespace Chat.Streaming.Services;

/// <summary>Everything a connection needs from the replica, bundled so each socket costs one reference.</summary>
public sealed record ConnectionServices(
    ConversationHub Hub,
    ChatApiClient Api,
    ConversationAuthorizer Authorizer,
    GenerationCancelBus CancelBus,
    StreamingTelemetry Telemetry,
    StreamingOptions Options,
    TimeProvider Time,
    ILogger<ChatConnection> Logger)
{
    /// <summary>The client-frame token bucket's settings, built once per replica; each connection gets its own bucket from them.</summary>
    public TokenBucketRateLimiterOptions RateLimit { get; } = ClientRateLimit.BucketOptions(Options);
}

/// <summary>
/// One authenticated WebSocket and what it holds: its user, its subscriptions and the generations it has seen. Its parts
/// each do one job: the <see cref="SocketReceiver"/> reads client frames in order and the
/// <see cref="ClientFrameDispatcher"/> handles each; the <see cref="SocketSender"/> sends, queueing what cannot go at
/// once, and closes a client too slow to keep up with 4008 (it reconnects and resubscribes with <c>after</c>); the
/// <see cref="ConnectionClock"/> sends heartbeats and ends the connection when its token expires.
/// </summary>
public sealed class ChatConnection : IFrameSink, IClockTarget, IReceiveTarget, IDisposable
{
    private const int MaxTrackedGenerations = 4096;

    private readonly WebSocket _socket;
    private readonly SocketSender _sender;
    private readonly ConnectionClock _clock;
    private readonly Dictionary<Guid, Subscription> _subscriptions = []; // reader loop only
    private ConcurrentDictionary<Guid, Guid>? _generations; // made on the first generation frame: an idle socket does not pay for it
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ActivityContext _request; // the handshake's span, which each frame's span links to

    public ChatConnection(WebSocket socket, ChatUser user, string token, DateTimeOffset? expiresAt, ConnectionServices services)
    {
        _socket = socket;
        User = user;
        Token = token;
        Services = services;
        var options = services.Options;
        _sender = new SocketSender(socket, options.SendQueueCapacity, services.Telemetry, services.Time, options.CloseTimeout);
        _clock = new ConnectionClock(this, services.Time, options.HeartbeatInterval, expiresAt);
        RateLimit = new ClientRateLimit(services.RateLimit);
        _request = Activity.Current?.Context ?? default;
    }

    public string Id { get; } = Guid.CreateVersion7().ToString("N")[^12..];

    public ChatUser User { get; }

    /// <summary>The bearer token the socket authenticated with, passed on to chat-api.</summary>
    public string Token { get; }

    public ConnectionServices Services { get; }

    public ClientRateLimit RateLimit { get; }

    /// <summary>The sending side; the replay uses its fill level for back-pressure.</summary>
    public SocketSender Sender => _sender;

    /// <summary>Cancelled when the connection has ended: what a frame handler waits on stops.</summary>
    public CancellationToken Stopping => _stop.Token;

    public bool IsClosing => _sender.IsClosing;

    /// <summary>Completes when the connection has fully ended.</summary>
    public Task Completion => _completed.Task;

    public async Task RunAsync()
    {
        var telemetry = Services.Telemetry;
        var options = Services.Options;
        telemetry.Connections.Add(1);
        StreamingLog.ConnectionOpened(Services.Logger, Id, User.TenantId, User.UserId, InstanceInfo.Id);
        var writer = _sender.RunAsync();
        _clock.Start();
        try
        {
            TryEnqueue(ServerFrames.Encode(new HelloFrame(
                ChatProtocol.SubProtocol, "chat-streaming", InstanceInfo.Id, options.HeartbeatInterval.TotalSeconds, options.MaxFrameBytes)));
            await SocketReceiver.RunAsync(_socket, options.MaxFrameBytes, this);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer vanished or the socket was aborted: nothing left to tell it.
        }
        catch (Exception ex)
        {
            StreamingLog.ConnectionFailed(Services.Logger, ex, Id);
            RequestClose(CloseCodes.InternalError, ErrorCodes.Internal, drain: false);
        }
        finally
        {
            RequestClose(CloseCodes.Normal, "bye", drain: false);
            await writer; // ends once the queue is complete; the abort timer bounds a peer that stopped reading
            await EndAsync();
        }
    }

    private async Task EndAsync()
    {
        await _stop.CancelAsync();
        _clock.Dispose(); // a tick already running finds the sender closing and does nothing
        foreach (var subscription in _subscriptions.Values)
        {
            await Services.Hub.DetachAsync(subscription);
        }
        _subscriptions.Clear();
        Services.Telemetry.Connections.Add(-1);
        var close = _sender.Close;
        StreamingLog.ConnectionClosed(Services.Logger, Id, close?.Code ?? CloseCodes.Normal, close?.Reason ?? "");
        _completed.TrySetResult();
    }

    public void Dispose()
    {
        _sender.Dispose();
        RateLimit.Dispose();
        _stop.Dispose();
    }

    /// <summary>
    /// Asks the connection to end with <paramref name="code"/>. With <paramref name="drain"/> the queued frames (an error
    /// explaining the close) go out first; either way the socket is aborted if the close does not finish in time.
    /// </summary>
    public void RequestClose(int code, string reason, bool drain) => _sender.RequestClose(code, reason, drain);

    public bool TryEnqueue(ReadOnlyMemory<byte> frame)
    {
        if (_sender.TrySend(frame))
        {
            return true;
        }
        if (!_sender.IsClosing)
        {
            Overflowed();
        }
        return false;
    }

    public void Overflowed()
    {
        if (_sender.IsClosing)
        {
            return;
        }
        Services.Telemetry.SlowConsumerDrops.Add(1);
        StreamingLog.SlowConsumer(Services.Logger, Id, Services.Options.SendQueueCapacity);
        RequestClose(CloseCodes.SlowConsumer, ErrorCodes.SlowConsumer, drain: false);
    }

    public void NoteGeneration(Guid generationId, Guid conversationId)
    {
        var generations = _generations ?? LazyInitializer.EnsureInitialized(ref _generations);
        if (generations.ContainsKey(generationId))
        {
            return; // every frame of a generation lands here: the lock-free read spares TryAdd's lock
        }
        if (generations.Count >= MaxTrackedGenerations)
        {
            generations.Clear();
        }
        generations.TryAdd(generationId, conversationId);
    }

    /// <summary>The conversation of a generation this connection has seen, if it is still subscribed to it.</summary>
    public bool TryGetSubscribedGeneration(Guid generationId, out Guid conversationId)
    {
        conversationId = default;
        return _generations is { } generations && generations.TryGetValue(generationId, out conversationId)
            && _subscriptions.ContainsKey(conversationId);
    }

    public void SendError(string? id, string code, string message, Guid? conversationId = null, Guid? generationId = null)
    {
        Services.Telemetry.ClientErrors.Add(1, new KeyValuePair<string, object?>("code", code));
        TryEnqueue(ServerFrames.Encode(new ErrorFrame(id, code, message) { ConversationId = conversationId, GenerationId = generationId }));
    }

    /// <summary>Starts the span of a client frame (<see cref="FrameTracing.StartFrameActivity"/>).</summary>
    public Activity? StartFrameActivity(string name, ActivityKind kind) => FrameTracing.StartFrameActivity(name, kind, _request);

    public bool TryGetSubscription(Guid conversationId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Subscription? subscription) =>
        _subscriptions.TryGetValue(conversationId, out subscription);

    /// <summary>True when one more subscription is allowed; else tells the client and returns false.</summary>
    public bool HasRoomForSubscription(ClientFrame frame, Guid conversationId)
    {
        var max = Services.Options.MaxSubscriptionsPerConnection;
        if (_subscriptions.Count < max)
        {
            return true;
        }
        SendError(frame.Id, ErrorCodes.TooManySubscriptions, $"At most {max} subscriptions per connection.", conversationId);
        return false;
    }

    /// <summary>Creates a paused subscription and waits for Redis to confirm the channel; null (error sent) on failure.</summary>
    public async Task<Subscription?> OpenPausedAsync(ClientFrame frame, Guid conversationId)
    {
        var subscription = new Subscription(conversationId, this, Services.Options.ResumeBufferCapacity);
        subscription.Pause();
        _subscriptions.Add(conversationId, subscription);
        try
        {
            await Services.Hub.AttachAsync(subscription, Stopping);
            return subscription;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            await CloseSubscriptionAsync(conversationId);
            SendError(frame.Id, ErrorCodes.Internal, "The message bus is unavailable; try again.", conversationId);
            return null;
        }
    }

    /// <summary>Ends the subscription to <paramref name="conversationId"/>; false when there was none.</summary>
    public async Task<bool> CloseSubscriptionAsync(Guid conversationId)
    {
        if (!_subscriptions.Remove(conversationId, out var subscription))
        {
            return false;
        }
        await Services.Hub.DetachAsync(subscription);
        return true;
    }

    void IReceiveTarget.OnPeerClosed() => RequestClose(CloseCodes.Normal, "bye", drain: false);

    void IReceiveTarget.OnFrameTooBig()
    {
        if (_sender.IsClosing)
        {
            return;
        }
        var max = Services.Options.MaxFrameBytes;
        SendError(null, ErrorCodes.InvalidFrame, $"Frames are limited to {max} bytes.");
        RequestClose(CloseCodes.MessageTooBig, "frame too big", drain: true);
    }

    Task IReceiveTarget.OnFrameAsync(WebSocketMessageType type, ReadOnlyMemory<byte> frame) => ClientFrameDispatcher.DispatchAsync(this, type, frame);

    void IClockTarget.OnHeartbeat(DateTimeOffset now) => TryEnqueue(ServerFrames.Encode(new HeartbeatFrame(now.ToUnixTimeMilliseconds())));

    void IClockTarget.OnTokenExpired()
    {
        SendError(null, ErrorCodes.TokenExpired, "The access token expired; reconnect with a fresh one.");
        RequestClose(CloseCodes.Unauthorized, ErrorCodes.TokenExpired, drain: true);
    }

    void IClockTarget.OnClockFailed(Exception exception)
    {
        StreamingLog.ConnectionFailed(Services.Logger, exception, Id);
        RequestClose(CloseCodes.InternalError, ErrorCodes.Internal, drain: false);
    }
}
