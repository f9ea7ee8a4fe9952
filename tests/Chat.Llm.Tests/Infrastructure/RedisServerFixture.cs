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
        Redis = await ConnectionMultiplexer.ConnectAsync($"{_server.Configuration},abortConnect=true,connectTimeout=1000");
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
