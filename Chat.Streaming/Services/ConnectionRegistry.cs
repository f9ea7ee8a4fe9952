using System.Collections.Concurrent;
using Chat.Streaming.Protocol;
using Microsoft.Extensions.Options;

namespace Chat.Streaming.Services;

/// <summary>
/// Knows every open connection of this replica. It is their clock: once a <see cref="ClockInterval"/> it gives each
/// the time (<see cref="ChatConnection.Tick"/>) for heartbeats and token expiry, as SignalR's connection manager does
/// for its connections, so no socket keeps a timer of its own. On stop, each connection is closed with 1012 (service
/// restart) and the clients reconnect to another replica. Generations are unaffected: they run in Chat.Api.
/// </summary>
public sealed class ConnectionRegistry(
    IHostApplicationLifetime lifetime,
    IOptions<StreamingOptions> options,
    TimeProvider time,
    ILogger<ConnectionRegistry> logger) : IHostedService, IDisposable
{
    private readonly ConcurrentDictionary<ChatConnection, byte> _connections = new();
    private readonly CancellationTokenSource _clockStop = new();
    private Task _clock = Task.CompletedTask;
    private volatile bool _stopping;

    /// <summary>A second, or half the heartbeat interval when that is shorter.</summary>
    public TimeSpan ClockInterval { get; } = options.Value.HeartbeatInterval / 2 < TimeSpan.FromSeconds(1)
        ? options.Value.HeartbeatInterval / 2
        : TimeSpan.FromSeconds(1);

    public int Count => _connections.Count;

    public bool IsStopping => _stopping;

    public void Add(ChatConnection connection)
    {
        _connections.TryAdd(connection, 0);
        if (_stopping)
        {
            connection.RequestClose(CloseCodes.ServiceRestart, ErrorCodes.ServerShuttingDown, drain: true);
        }
    }

    private ChatConnection[] CloseAll()
    {
        var first = !_stopping;
        _stopping = true;
        var open = _connections.Keys.ToArray();
        if (first)
        {
            StreamingLog.ShuttingDown(logger, open.Length);
        }
        foreach (var connection in open)
        {
            connection.RequestClose(CloseCodes.ServiceRestart, ErrorCodes.ServerShuttingDown, drain: true);
        }
        return open;
    }

    public void Remove(ChatConnection connection) => _connections.TryRemove(connection, out _);

    /// <summary>
    /// Closing starts on <see cref="IHostApplicationLifetime.ApplicationStopping"/>, before any hosted service stops:
    /// the web server's own stop waits for open requests (every socket is one), so waiting for it would be too late.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(() => CloseAll());
        _clock = RunClockAsync(_clockStop.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _clockStop.CancelAsync();
        await _clock;
        var open = CloseAll();
        try
        {
            await Task.WhenAll(open.Select(c => c.Completion)).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout won; the sockets are aborted with the server.
        }
    }

    public void Dispose() => _clockStop.Dispose();

    private async Task RunClockAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(ClockInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                Tick();
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>One tick: every connection gets the time and the tick's heartbeat frame (encoded once for all).</summary>
    private void Tick()
    {
        var now = time.GetUtcNow();
        var heartbeat = ServerFrames.Encode(new HeartbeatFrame(now.ToUnixTimeMilliseconds()));
        foreach (var (connection, _) in _connections)
        {
            try
            {
                connection.Tick(now, heartbeat);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                StreamingLog.ConnectionFailed(logger, ex, connection.Id);
            }
        }
    }
}
