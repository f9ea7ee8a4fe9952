using System.Collections.Concurrent;
using Chat.Streaming.Protocol;

namespace Chat.Streaming.Services;

/// <summary>
/// Knows every open connection of this replica so that, on stop, each is closed with 1012 (service restart) and the
/// clients reconnect to another replica. Generations are unaffected: they run in Chat.Api.
/// </summary>
public sealed class ConnectionRegistry(IHostApplicationLifetime lifetime, ILogger<ConnectionRegistry> logger) : IHostedService
{
    private readonly ConcurrentDictionary<ChatConnection, byte> _connections = new();
    private volatile bool _stopping;

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
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
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
}
