using Chat.Bench.Baselines.SignalRPeer;
using Chat.Messaging;
using Chat.Messaging.Contracts;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Chat.Bench.WebSockets;

/// <summary>Publishes one generation frame the way the target expects to receive it.</summary>
public interface IFramePublisher : IAsyncDisposable
{
    Task PublishAsync(GenerationFrame frame, string json);
}

/// <summary>
/// Chat's contract (Chat.Messaging, docs/PROTOCOL.md "Frames on Redis"): for every frame XADD to the generation's
/// stream with id <c>{seq}-1</c>, refresh the stream's expiry to the replay window, then PUBLISH on the
/// conversation's channel — pipelined in that order on one connection. Used for Chat and for the raw baseline
/// alike, so both see the same Redis traffic.
/// </summary>
public sealed class RedisFramePublisher(IConnectionMultiplexer redis) : IFramePublisher
{
    private readonly IDatabase _db = redis.GetDatabase();

    public static async Task<RedisFramePublisher> ConnectAsync(string configuration) =>
        new(await ConnectionMultiplexer.ConnectAsync(configuration));

    public Task PublishAsync(GenerationFrame frame, string json)
    {
        var stream = RedisKeys.GenerationStream(frame.GenerationId);
        var add = _db.StreamAddAsync(stream, GenerationStreamSettings.FrameField, json, GenerationStreamSettings.EntryId(frame.Seq),
            maxLength: GenerationStreamSettings.DefaultMaxLength, useApproximateMaxLength: true);
        var expire = _db.KeyExpireAsync(stream, GenerationStreamSettings.DefaultReplayWindow);
        var publish = _db.PublishAsync(RedisKeys.ConversationChannel(frame.ConversationId), json);
        return Task.WhenAll(add, expire, publish);
    }

    public async ValueTask DisposeAsync() => await redis.DisposeAsync();
}

/// <summary>
/// The SignalR peer's publisher: a server-side <see cref="IHubContext{THub}"/> on the Redis backplane, in this
/// process (as an API replica that is not the WebSocket server would publish). One PUBLISH per frame, to the
/// group's backplane channel; the peer server relays it to the group's connections. No replay stream: SignalR
/// has none, and a team choosing it would not add one.
/// </summary>
public sealed class SignalRFramePublisher : IFramePublisher
{
    private readonly IHost _host;
    private readonly IHubContext<FrameHub> _hub;

    private SignalRFramePublisher(IHost host)
    {
        _host = host;
        _hub = host.Services.GetRequiredService<IHubContext<FrameHub>>();
    }

    public static async Task<SignalRFramePublisher> StartAsync(string redisConfiguration)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSignalR().AddStackExchangeRedis(redisConfiguration);
        var host = builder.Build();
        await host.StartAsync();
        return new SignalRFramePublisher(host);
    }

    public Task PublishAsync(GenerationFrame frame, string json) =>
        _hub.Clients.Group(PeerProtocol.Group(frame.ConversationId)).SendAsync(PeerProtocol.FrameMethod, json);

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
