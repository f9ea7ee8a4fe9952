using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using Chat.Messaging;
using Chat.ServiceDefaults.Authentication;
using Chat.Streaming.Infrastructure;
using Chat.Streaming.Protocol;
using StackExchange.Redis;

namespace Chat.Streaming.Services;

/// <summary>Everything a connection needs from the replica, bundled so each socket costs one reference.</summary>
public sealed record ConnectionServices(
    ConversationHub Hub,
    ChatApiClient Api,
    ConversationAuthorizer Authorizer,
    IConnectionMultiplexer Redis,
    StreamingTelemetry Telemetry,
    StreamingOptions Options,
    TimeProvider Time,
    ILogger<ChatConnection> Logger);

/// <summary>
/// One authenticated WebSocket. A reader loop handles client frames in order; one writer loop drains a bounded send
/// queue, so nothing but the writer ever waits on this client's network. When the queue overflows the client is too
/// slow: its queue is dropped and the socket closes with 4008 (it reconnects and resubscribes with <c>after</c>).
/// </summary>
public sealed class ChatConnection : IFrameSink, IDisposable
{
    private const int SendIdle = 0;
    private const int SendInline = 1;
    private const int SendWriter = 2;

    private readonly WebSocket _socket;
    private readonly ChatUser _user;
    private readonly string _token;
    private readonly DateTimeOffset? _expiresAt;
    private readonly ConnectionServices _services;
    private readonly StreamingOptions _options;
    private readonly SendQueue _queue;
    private readonly Dictionary<Guid, Subscription> _subscriptions = []; // reader loop only
    private ConcurrentDictionary<Guid, Guid>? _generations; // made on the first generation frame: an idle socket does not pay for it
    private readonly CancellationTokenSource _stop = new();
    private ITimer? _clock; // heartbeats and the token's expiry (OnClock)
    private DateTimeOffset _nextHeartbeat; // touched by OnClock only, after RunAsync sets it
    private ITimer? _abortTimer; // made when the close is requested: an open socket does not pay for it
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TokenBucket _rate;
    private readonly ActivityContext _request; // the handshake's span, which each frame's span links to
    private CloseRequest? _close;
    private volatile bool _discardQueue;
    private int _sendSide; // who may call SendAsync now: SendIdle, SendInline or SendWriter
    private Task? _pendingSend; // an inline send that did not complete at once; only the send side's holder touches it
    private int _violations;

    public ChatConnection(WebSocket socket, ChatUser user, string token, DateTimeOffset? expiresAt, ConnectionServices services)
    {
        _socket = socket;
        _user = user;
        _token = token;
        _expiresAt = expiresAt;
        _services = services;
        _options = services.Options;
        // Live frames never wait: a full queue is the slow-consumer signal. Replays wait until it is half empty.
        _queue = new SendQueue(_options.SendQueueCapacity);
        _rate = new TokenBucket(_options.RateLimitBurst, _options.RateLimitPerSecond, services.Time);
        _request = Activity.Current?.Context ?? default;
    }

    public string Id { get; } = Guid.CreateVersion7().ToString("N")[^12..];

    /// <summary>Completes when the connection has fully ended.</summary>
    public Task Completion => _completed.Task;

    public async Task RunAsync()
    {
        var telemetry = _services.Telemetry;
        telemetry.Connections.Add(1);
        StreamingLog.ConnectionOpened(_services.Logger, Id, _user.TenantId, _user.UserId, InstanceInfo.Id);
        var writer = RunWriterAsync();
        var now = _services.Time.GetUtcNow();
        _nextHeartbeat = now + _options.HeartbeatInterval;
        _clock = _services.Time.CreateTimer(static connection => ((ChatConnection)connection!).OnClock(), this,
            Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        ArmClock(now);
        try
        {
            TryEnqueue(ServerFrames.Encode(new HelloFrame(
                ChatProtocol.SubProtocol, "chat-streaming", InstanceInfo.Id, _options.HeartbeatInterval.TotalSeconds, _options.MaxFrameBytes)));
            await RunReaderAsync();
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer vanished or the socket was aborted: nothing left to tell it.
        }
        catch (Exception ex)
        {
            StreamingLog.ConnectionFailed(_services.Logger, ex, Id);
            RequestClose(CloseCodes.InternalError, ErrorCodes.Internal, drain: false);
        }
        finally
        {
            RequestClose(CloseCodes.Normal, "bye", drain: false);
            await writer; // ends once the queue is complete; the abort timer bounds a peer that stopped reading
            await _stop.CancelAsync();
            _clock.Dispose(); // a tick already running finds _close set and does nothing
            foreach (var subscription in _subscriptions.Values)
            {
                await _services.Hub.DetachAsync(subscription);
            }
            _subscriptions.Clear();
            telemetry.Connections.Add(-1);
            StreamingLog.ConnectionClosed(_services.Logger, Id, _close?.Code ?? CloseCodes.Normal, _close?.Reason ?? "");
            _completed.TrySetResult();
        }
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _abortTimer, null)?.Dispose();
        _stop.Dispose();
    }

    /// <summary>
    /// Asks the connection to end with <paramref name="code"/>. With <paramref name="drain"/> the queued frames (an error
    /// explaining the close) go out first; either way the socket is aborted if the close does not finish in time.
    /// </summary>
    public void RequestClose(int code, string reason, bool drain)
    {
        if (Interlocked.CompareExchange(ref _close, new CloseRequest(code, reason), null) is not null)
        {
            return;
        }
        if (!drain)
        {
            _discardQueue = true;
        }
        _queue.TryComplete();
        // A peer that never answers the close, or stops reading mid-send, is cut off. Made once: only the first close
        // request gets here, and the connection's own close request comes before it is disposed.
        _abortTimer = _services.Time.CreateTimer(static socket => ((WebSocket)socket!).Abort(), _socket, _options.CloseTimeout * 2, Timeout.InfiniteTimeSpan);
    }

    public bool TryEnqueue(ReadOnlyMemory<byte> frame)
    {
        if (TrySendInline(frame) || _queue.TryWrite(frame))
        {
            return true;
        }
        if (_close is null)
        {
            Overflowed();
        }
        return false;
    }

    public void Overflowed()
    {
        if (_close is not null)
        {
            return;
        }
        _services.Telemetry.SlowConsumerDrops.Add(1);
        StreamingLog.SlowConsumer(_services.Logger, Id, _options.SendQueueCapacity);
        RequestClose(CloseCodes.SlowConsumer, ErrorCodes.SlowConsumer, drain: false);
    }

    public void NoteGeneration(Guid generationId, Guid conversationId)
    {
        var generations = _generations ?? LazyInitializer.EnsureInitialized(ref _generations);
        if (generations.ContainsKey(generationId))
        {
            return; // every frame of a generation lands here: the lock-free read spares TryAdd's lock
        }
        if (generations.Count >= 4096)
        {
            generations.Clear();
        }
        generations.TryAdd(generationId, conversationId);
    }

    /// <summary>
    /// Sends <paramref name="frame"/> on the caller's thread when nothing is queued or being sent. Kestrel copies a small
    /// frame into its output pipe and returns at once, so the common case costs no wake-up of the writer loop — one
    /// thread-pool hop less per frame (docs/BENCHMARKS.md, "Third pass"). Each producer's order holds: its frame goes
    /// inline only while the queue is empty (so none of its earlier frames waits there) and nobody else is sending, and a
    /// send that does not finish at once is awaited by the writer loop before anything after it. False when the frame
    /// must be queued instead.
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
            _services.Telemetry.FramesSent.Add(1);
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

    private async Task RunWriterAsync()
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
                        _services.Telemetry.FramesSent.Add(1);
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

        if (_close is { } close && _socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            try
            {
                using var timeout = new CancellationTokenSource(_options.CloseTimeout);
                await _socket.CloseOutputAsync((WebSocketCloseStatus)close.Code, close.Reason, timeout.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
            {
                _socket.Abort();
            }
        }
    }

    /// <summary>
    /// Protocol heartbeats (WebSocket PINGs are sent by the socket itself) and the token's expiry, on one timer per
    /// connection rather than an async loop: a loop held its state machine, a delay and a cancellation registration
    /// for the socket's life (~0.3 KB, docs/BENCHMARKS.md, table 2). Each is due at a deadline and acted on only once
    /// that deadline has passed, so a timer that fires early (the timer and the wall clock are different clocks, and
    /// sub-millisecond delays round to zero) never sends a heartbeat early or spins. The timer is one-shot and re-armed
    /// at the end of each tick, so ticks never overlap.
    /// </summary>
    private void OnClock()
    {
        if (_close is not null)
        {
            return;
        }
        try
        {
            var now = _services.Time.GetUtcNow();
            if (_expiresAt is { } expires && now >= expires)
            {
                SendError(null, ErrorCodes.TokenExpired, "The access token expired; reconnect with a fresh one.");
                RequestClose(CloseCodes.Unauthorized, ErrorCodes.TokenExpired, drain: true);
                return;
            }
            if (now >= _nextHeartbeat)
            {
                TryEnqueue(ServerFrames.Encode(new HeartbeatFrame(now.ToUnixTimeMilliseconds())));
                _nextHeartbeat = now + _options.HeartbeatInterval;
            }
            ArmClock(now);
        }
        catch (Exception ex)
        {
            // A timer callback has no caller to throw to: end the connection rather than the process.
            StreamingLog.ConnectionFailed(_services.Logger, ex, Id);
            RequestClose(CloseCodes.InternalError, ErrorCodes.Internal, drain: false);
        }
    }

    private void ArmClock(DateTimeOffset now)
    {
        var due = _expiresAt is { } expiry && expiry < _nextHeartbeat ? expiry : _nextHeartbeat;
        try
        {
            _clock?.Change(TimerDelay(due - now), Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // The connection ended while this tick ran.
        }
    }

    /// <summary>Rounds a wait up to whole milliseconds (at least one), the timer's resolution.</summary>
    internal static TimeSpan TimerDelay(TimeSpan left) =>
        TimeSpan.FromMilliseconds(Math.Max(1, Math.Ceiling(left.TotalMilliseconds)));

    private async Task RunReaderAsync()
    {
        // An idle socket holds no receive buffer: the reader waits for the next frame with a zero-byte receive (as
        // SignalR's WebSocket transport does), then rents a small buffer until the frame is read. Client frames are a
        // few hundred bytes; a longer one is read in pieces into the message buffer, which is made for the first such
        // frame. A 16 KiB buffer held per socket was a third of a replica's memory per idle connection, a 2 KiB one
        // 2 KiB of its ~30 (docs/BENCHMARKS.md, table 2).
        ArrayBufferWriter<byte>? pieces = null;
        while (true)
        {
            var result = await _socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                RequestClose(CloseCodes.Normal, "bye", drain: false);
                return;
            }

            var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(_options.MaxFrameBytes, 2 * 1024));
            try
            {
                // A zero-byte receive that ends the message was an empty frame: nothing more to read for it. The frame so
                // far is what the message buffer holds, then the buffer's first `length` bytes.
                var length = 0;
                var tooBig = false;
                pieces?.Clear();
                while (!result.EndOfMessage)
                {
                    if (length == buffer.Length)
                    {
                        // Longer than the buffer: its bytes move to the message buffer, made for the first such frame.
                        (pieces ??= new ArrayBufferWriter<byte>(2 * buffer.Length)).Write(buffer);
                        length = 0;
                    }
                    result = await _socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        RequestClose(CloseCodes.Normal, "bye", drain: false);
                        return;
                    }
                    length += result.Count;
                    if (!tooBig && (pieces?.WrittenCount ?? 0) + length > _options.MaxFrameBytes)
                    {
                        if (_close is null)
                        {
                            SendError(null, ErrorCodes.InvalidFrame, $"Frames are limited to {_options.MaxFrameBytes} bytes.");
                            RequestClose(CloseCodes.MessageTooBig, "frame too big", drain: true);
                        }
                        tooBig = true;
                    }
                    if (tooBig)
                    {
                        // The rest of the frame is read and dropped.
                        pieces?.Clear();
                        length = 0;
                    }
                }

                if (_close is not null || tooBig)
                {
                    continue; // closing: read until the peer answers the close, ignore what it sends
                }
                ReadOnlyMemory<byte> frameBytes = buffer.AsMemory(0, length);
                if (pieces is { WrittenCount: > 0 })
                {
                    pieces.Write(frameBytes.Span);
                    frameBytes = pieces.WrittenMemory;
                }
                await OnFrameAsync(result.MessageType, frameBytes);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>One whole client frame: rate limit, type, parse, handle.</summary>
    private async Task OnFrameAsync(WebSocketMessageType type, ReadOnlyMemory<byte> frameBytes)
    {
        _services.Telemetry.FramesReceived.Add(1);
        if (!_rate.TryTake())
        {
            if (++_violations == 1)
            {
                SendError(null, ErrorCodes.RateLimited, $"Too many frames: at most {_options.RateLimitPerSecond}/s (burst {_options.RateLimitBurst}); frames over the limit are dropped.");
            }
            if (_violations >= _options.MaxRateViolations)
            {
                StreamingLog.Flood(_services.Logger, Id, _violations);
                SendError(null, ErrorCodes.RateLimited, "Flood: closing the connection.");
                RequestClose(CloseCodes.PolicyViolation, "rate limit", drain: true);
            }
            return;
        }
        _violations = 0;
        if (type == WebSocketMessageType.Binary)
        {
            SendError(null, ErrorCodes.BinaryNotSupported, "chat.v1 frames are JSON text.");
            return;
        }
        if (!ClientFrameParser.TryParse(frameBytes.Span, out var frame, out var error))
        {
            SendError(error.Id, error.Code, error.Message);
            return;
        }
        await HandleAsync(frame);
    }

    private Task HandleAsync(ClientFrame frame)
    {
        switch (frame.Type)
        {
            case ClientFrameTypes.Ping:
                TryEnqueue(ServerFrames.Encode(new PongFrame(frame.Id)));
                return Task.CompletedTask;
            case ClientFrameTypes.Subscribe:
                return SubscribeAsync(frame);
            case ClientFrameTypes.Unsubscribe:
                return UnsubscribeAsync(frame);
            case ClientFrameTypes.MessageSend:
                return SendMessageAsync(frame);
            case ClientFrameTypes.GenerationCancel:
                return CancelAsync(frame);
            default:
                SendError(frame.Id, ErrorCodes.UnknownType, "Unknown frame type.");
                return Task.CompletedTask;
        }
    }

    private async Task SubscribeAsync(ClientFrame frame)
    {
        using var activity = StartFrameActivity("subscribe", ActivityKind.Internal);
        activity?.SetTag("chat.conversation_id", frame.ConversationId);
        activity?.SetTag("chat.generation_id", frame.GenerationId);
        activity?.SetTag("chat.after", frame.After);
        var conversationId = frame.ConversationId;

        if (!_subscriptions.TryGetValue(conversationId, out var subscription))
        {
            if (_subscriptions.Count >= _options.MaxSubscriptionsPerConnection)
            {
                SendError(frame.Id, ErrorCodes.TooManySubscriptions, $"At most {_options.MaxSubscriptionsPerConnection} subscriptions per connection.", conversationId);
                return;
            }
            var allowed = await _services.Authorizer.AuthorizeAsync(_user, _token, conversationId, _stop.Token);
            if (!allowed.Succeeded)
            {
                SendError(frame.Id, allowed.ErrorCode!, allowed.ErrorMessage!, conversationId);
                return;
            }
            subscription = await AttachPausedAsync(frame, conversationId);
            if (subscription is null)
            {
                return;
            }
        }
        else
        {
            subscription.Pause();
        }

        // Live frames are now buffering (the channel subscription is confirmed), so the replay can't miss any.
        var recovered = true;
        var replayed = 0;
        IReadOnlyList<LiveFrame>? replay = [];
        if (frame.GenerationId is { } generationId)
        {
            var after = frame.After ?? -1;
            try
            {
                replay = await _services.Hub.ReadReplayAsync(conversationId, generationId, after);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                StreamingLog.ReplayFailed(_services.Logger, ex, generationId);
                replay = null;
            }
            recovered = replay is not null;
            if (recovered)
            {
                subscription.Rewind(generationId, after);
                NoteGeneration(generationId, conversationId);
            }
        }

        TryEnqueue(ServerFrames.Encode(new SubscribedFrame(frame.Id, conversationId, frame.GenerationId, recovered, replay?.Count ?? 0, InstanceInfo.Id)));
        foreach (var replayedFrame in replay ?? [])
        {
            if (!subscription.AcceptReplayed(replayedFrame))
            {
                continue;
            }
            // Replays can be long: wait for the writer rather than overflow the queue (live frames are buffering).
            while (_queue.Count >= _queue.Capacity / 2 && _close is null)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(5), _services.Time, _stop.Token);
            }
            if (!TryEnqueue(replayedFrame.Utf8))
            {
                break;
            }
            replayed++;
        }
        _services.Telemetry.FramesReplayed.Add(replayed);
        activity?.SetTag("chat.recovered", recovered);
        activity?.SetTag("chat.replayed", replayed);
        subscription.Resume();
    }

    /// <summary>Creates a paused subscription and waits for Redis to confirm the channel; null (error sent) on failure.</summary>
    private async Task<Subscription?> AttachPausedAsync(ClientFrame frame, Guid conversationId)
    {
        var subscription = new Subscription(conversationId, this, _options.ResumeBufferCapacity);
        subscription.Pause();
        _subscriptions.Add(conversationId, subscription);
        try
        {
            await _services.Hub.AttachAsync(subscription, _stop.Token);
            return subscription;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _subscriptions.Remove(conversationId);
            await _services.Hub.DetachAsync(subscription);
            SendError(frame.Id, ErrorCodes.Internal, "The message bus is unavailable; try again.", conversationId);
            return null;
        }
    }

    private async Task UnsubscribeAsync(ClientFrame frame)
    {
        if (!_subscriptions.Remove(frame.ConversationId, out var subscription))
        {
            SendError(frame.Id, ErrorCodes.NotSubscribed, "Not subscribed to this conversation.", frame.ConversationId);
            return;
        }
        await _services.Hub.DetachAsync(subscription);
        TryEnqueue(ServerFrames.Encode(new UnsubscribedFrame(frame.Id, frame.ConversationId)));
    }

    private async Task SendMessageAsync(ClientFrame frame)
    {
        if (!_user.HasScope(ChatScopes.Write))
        {
            SendError(frame.Id, ErrorCodes.Forbidden, "Sending needs the chat.write scope.", frame.ConversationId);
            return;
        }
        using var activity = StartFrameActivity("message.send", ActivityKind.Client);
        activity?.SetTag("chat.conversation_id", frame.ConversationId);
        var conversationId = frame.ConversationId;

        // Subscribe (paused) before the API starts the generation, so its first frame can't slip past the sender.
        var existed = _subscriptions.TryGetValue(conversationId, out var subscription);
        if (!existed)
        {
            if (_subscriptions.Count >= _options.MaxSubscriptionsPerConnection)
            {
                SendError(frame.Id, ErrorCodes.TooManySubscriptions, $"At most {_options.MaxSubscriptionsPerConnection} subscriptions per connection.", conversationId);
                return;
            }
            subscription = await AttachPausedAsync(frame, conversationId);
            if (subscription is null)
            {
                return;
            }
        }
        else
        {
            subscription!.Pause();
        }

        var result = await _services.Api.SendMessageAsync(
            conversationId, new SendMessageRequest(frame.Content!, frame.ClientMessageId!, frame.Model, frame.Provider), _token, _stop.Token);
        if (!result.Succeeded)
        {
            if (existed)
            {
                subscription.Resume();
            }
            else
            {
                // Nothing buffered for a conversation the caller may not read ever leaves the replica.
                _subscriptions.Remove(conversationId);
                await _services.Hub.DetachAsync(subscription);
            }
            SendError(frame.Id, result.ErrorCode!, result.ErrorMessage!, conversationId);
            return;
        }

        _services.Authorizer.Remember(_user, conversationId);
        var sent = result.Value!;
        activity?.SetTag("chat.generation_id", sent.GenerationId);
        if (sent.GenerationId is { } generationId)
        {
            NoteGeneration(generationId, conversationId);
        }
        subscription.Resume(first: () =>
        {
            if (!existed)
            {
                TryEnqueue(ServerFrames.Encode(new SubscribedFrame(null, conversationId, null, true, 0, InstanceInfo.Id)));
            }
            TryEnqueue(ServerFrames.Encode(new AckFrame(frame.Id, conversationId, sent.MessageId, sent.GenerationId, sent.AssistantMessageId)));
        });
    }

    private async Task CancelAsync(ClientFrame frame)
    {
        var generationId = frame.GenerationId!.Value;
        if (!_user.HasScope(ChatScopes.Write))
        {
            SendError(frame.Id, ErrorCodes.Forbidden, "Cancelling needs the chat.write scope.", generationId: generationId);
            return;
        }
        // Only a generation this connection has seen, in a conversation it is subscribed to (so was authorized for).
        if (_generations is null || !_generations.TryGetValue(generationId, out var conversationId) || !_subscriptions.ContainsKey(conversationId))
        {
            SendError(frame.Id, ErrorCodes.GenerationNotFound, "No such generation in a subscribed conversation.", generationId: generationId);
            return;
        }
        using var activity = StartFrameActivity("generation.cancel", ActivityKind.Producer);
        activity?.SetTag("chat.generation_id", generationId);
        try
        {
            await _services.Redis.GetSubscriber().PublishAsync(RedisKeys.CancelChannel, generationId.ToString("N"));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            SendError(frame.Id, ErrorCodes.Internal, "The message bus is unavailable; try again.", generationId: generationId);
            return;
        }
        TryEnqueue(ServerFrames.Encode(new AckFrame(frame.Id, conversationId, null, generationId, null)));
    }

    /// <summary>
    /// Starts a client frame's span as the root of a trace of its own, linked to the connection's request span, as
    /// SignalR does for hub invocations (.NET 9). The request span lasts as long as the socket: as its children, every
    /// message a socket ever sent would share one trace, complete only when the socket closes, hours later. The calls to
    /// chat-api made under the span (and the generation they start) join its trace. Only the calling handler's flow sees
    /// the change of <see cref="Activity.Current"/>: handlers are async methods, whose context changes end with them.
    /// </summary>
    private Activity? StartFrameActivity(string name, ActivityKind kind)
    {
        if (!StreamingTelemetry.ActivitySource.HasListeners())
        {
            return null;
        }
        var current = Activity.Current;
        Activity.Current = null;
        var activity = StreamingTelemetry.ActivitySource.StartActivity(name, kind, parentContext: default,
            links: _request == default ? null : [new ActivityLink(_request)]);
        if (activity is null)
        {
            Activity.Current = current;
        }
        return activity;
    }

    private void SendError(string? id, string code, string message, Guid? conversationId = null, Guid? generationId = null)
    {
        _services.Telemetry.ClientErrors.Add(1, new KeyValuePair<string, object?>("code", code));
        TryEnqueue(ServerFrames.Encode(new ErrorFrame(id, code, message) { ConversationId = conversationId, GenerationId = generationId }));
    }

    private sealed record CloseRequest(int Code, string Reason);

    /// <summary>Per-connection token bucket; touched only by the reader loop.</summary>
    private sealed class TokenBucket(int burst, int perSecond, TimeProvider time)
    {
        private double _tokens = burst;
        private long _stamp = time.GetTimestamp();

        public bool TryTake()
        {
            var now = time.GetTimestamp();
            _tokens = Math.Min(burst, _tokens + (time.GetElapsedTime(_stamp, now).TotalSeconds * perSecond));
            _stamp = now;
            if (_tokens < 1)
            {
                return false;
            }
            _tokens -= 1;
            return true;
        }
    }
}
