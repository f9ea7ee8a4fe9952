using System.Collections.Concurrent;
using Chat.Streaming.Protocol;

namespace Chat.Streaming.Services;

/// <summary>
/// Knows every open connection of this replica so that, on stop, each is closed with 1012 (service restart) and the
/// clients reconnect to another replica. Generations are unaffected: they run in Chat.Api.
/// </summary>
public sealed class ConnectionRegistry(ILogger<ConnectionRegistry> logger) : IHostedService
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

    public void Remove(ChatConnection connection) => _connections.TryRemove(connection, out _);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        var open = _connections.Keys.ToArray();
        StreamingLog.ShuttingDown(logger, open.Length);
        foreach (var connection in open)
        {
            connection.RequestClose(CloseCodes.ServiceRestart, ErrorCodes.ServerShuttingDown, drain: true);
        }
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
