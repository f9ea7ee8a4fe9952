using Chat.Tests.Shared;
using StackExchange.Redis;

namespace Chat.Llm.Tests.Infrastructure;

/// <summary>One redis-server (<see cref="RedisServer"/>) shared by a test collection, with a connected client; stopped on dispose.</summary>
public sealed class RedisServerFixture : IAsyncLifetime
{
    private RedisServer? _server;

    public IConnectionMultiplexer Redis { get; private set; } = null!;

    public int Port => _server!.Port;

    public async Task InitializeAsync()
    {
        _server = await RedisServer.StartAsync();
        // The server already answers PING; the client may still take seconds to connect on a loaded machine, so it keeps
        // trying (abortConnect=false) and the fixture waits, bounded, until it is connected.
        Redis = await ConnectionMultiplexer.ConnectAsync($"{_server.Configuration},abortConnect=false,connectTimeout=5000");
        await RedisServer.WaitUntilAsync(() => Redis.IsConnected, "the fixture's client to connect");
    }

    public async Task DisposeAsync()
    {
        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisServerFixture>
{
    public const string Name = "redis";
}
