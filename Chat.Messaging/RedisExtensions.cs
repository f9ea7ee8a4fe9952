using Chat.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

/// <summary>What a Redis command issued while the multiplexer is disconnected does.</summary>
public enum RedisCommandsWhileDisconnected
{
    /// <summary>
    /// Wait (within the command's async timeout, 5 s) for the connection to come back, then run. Chat.Streaming's choice:
    /// a socket that subscribes during a short outage is answered once Redis is back instead of failing, and the hub's
    /// own reads after a restore never race the reconnect.
    /// </summary>
    Queue,

    /// <summary>
    /// Throw <see cref="RedisConnectionException"/> at once, and abandon commands in flight when the connection drops.
    /// Chat.Api's choice: its generation runner buffers frames itself while Redis is away and must learn of the outage
    /// immediately, not after a timeout per frame with the frames queued behind each other.
    /// </summary>
    FailFast,
}

public static class RedisExtensions
{
    /// <summary>The Aspire resource (and connection string) name of the Redis server.</summary>
    public const string ConnectionName = "cache";

    /// <summary>How often a disconnected multiplexer tries again (it checks on its 1 s heartbeat).</summary>
    public static readonly TimeSpan ReconnectInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Registers the shared <see cref="IConnectionMultiplexer"/> on <c>cache</c>, a <c>redis</c> health check and the
    /// <see cref="GenerationCancelBus"/> over it.
    /// The multiplexer reconnects promptly: it never gives up (<c>AbortOnConnectFail=false</c>), tries every
    /// <see cref="ReconnectInterval"/> instead of StackExchange.Redis's default exponential back-off (which stretches to
    /// tens of seconds during a long outage), and a connect attempt times out after 2 s — so it is back within ~1–2 s of
    /// Redis answering again. <paramref name="whileDisconnected"/> says what commands do meanwhile; the default is what
    /// Chat.Streaming needs.
    /// </summary>
    public static TBuilder AddChatRedis<TBuilder>(this TBuilder builder,
        RedisCommandsWhileDisconnected whileDisconnected = RedisCommandsWhileDisconnected.Queue) where TBuilder : IHostApplicationBuilder
    {
        builder.AddRedisClient(ConnectionName, settings => settings.DisableHealthChecks = true,
            options => Configure(options, whileDisconnected));
        builder.Services.TryAddSingleton<GenerationCancelBus>();
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            ServiceDefaultsExtensions.RedisCheck,
            sp => new RedisPingHealthCheck(sp.GetRequiredService<IConnectionMultiplexer>()),
            failureStatus: HealthStatus.Unhealthy,
            tags: null,
            timeout: TimeSpan.FromSeconds(3)));
        return builder;
    }

    /// <summary>The connection settings <see cref="AddChatRedis{TBuilder}"/> applies (public for tests that run their own Redis).</summary>
    public static void Configure(ConfigurationOptions options, RedisCommandsWhileDisconnected whileDisconnected)
    {
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2_000;
        options.ReconnectRetryPolicy = new LinearRetry((int)ReconnectInterval.TotalMilliseconds);
        options.BacklogPolicy = whileDisconnected == RedisCommandsWhileDisconnected.FailFast ? BacklogPolicy.FailFast : BacklogPolicy.Default;
        // Pub/sub on its own connection (RESP2), whose ConnectionFailed/ConnectionRestored events Chat.Streaming's
        // ConversationHub watches to tell its sockets about an outage; under RESP3 there would be no such connection.
        options.Protocol = RedisProtocol.Resp2;
    }

    private sealed class RedisPingHealthCheck(IConnectionMultiplexer redis) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                await redis.GetDatabase().PingAsync();
                return HealthCheckResult.Healthy();
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                return HealthCheckResult.Unhealthy("Redis did not answer PING.", ex);
            }
        }
    }
}
