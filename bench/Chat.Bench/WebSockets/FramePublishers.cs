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
/// Chat's contract (docs/STREAMING.md, "Writing"), written by Chat's own <see cref="GenerationFramePublisher"/>: for every
/// frame XADD to the generation's stream with id <c>{seq}-1</c>, then PUBLISH on the conversation's channel, pipelined on
/// one connection; the stream's expiry is set on the first and the terminal frame, as the runner does for a generation
/// shorter than a quarter of the replay window. Used for Chat and for the raw baseline alike, so both see the same Redis
/// traffic — or, with <c>publishOnly</c> (raw only), just the PUBLISH: the least a Redis fan-out needs.
/// </summary>
public sealed class RedisFramePublisher(IConnectionMultiplexer redis, bool publishOnly) : IFramePublisher
{
    private readonly GenerationFramePublisher _publisher = new(redis);

    public static async Task<RedisFramePublisher> ConnectAsync(string configuration, bool publishOnly = false) =>
        new(await ConnectionMultiplexer.ConnectAsync(configuration), publishOnly);

    public async Task PublishAsync(GenerationFrame frame, string json)
    {
        var expire = frame.Seq == 0 || frame.IsTerminal ? GenerationStreamSettings.DefaultReplayWindow : (TimeSpan?)null;
        var status = publishOnly
            ? await _publisher.PublishOnlyAsync(frame.ConversationId, json)
            : await _publisher.WriteAsync(frame, json, expire, GenerationStreamSettings.DefaultMaxLength);
        if (status != FrameWriteStatus.Written)
        {
            throw new InvalidOperationException($"Frame {frame.Seq} of generation {frame.GenerationId} was not written: {status}.");
        }
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
