using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

public static class RedisExtensions
{
    /// <summary>The Aspire resource (and connection string) name of the Redis server.</summary>
    public const string ConnectionName = "cache";

    /// <summary>Registers the shared <see cref="IConnectionMultiplexer"/> on <c>cache</c> and a <c>redis</c> health check.</summary>
    public static TBuilder AddChatRedis<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.AddRedisClient(ConnectionName, settings => settings.DisableHealthChecks = true);
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            ServiceDefaultsExtensions.RedisCheck,
            sp => new RedisPingHealthCheck(sp.GetRequiredService<IConnectionMultiplexer>()),
            failureStatus: HealthStatus.Unhealthy,
            tags: null,
            timeout: TimeSpan.FromSeconds(3)));
        return builder;
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
            catch (RedisException ex)
            {
                return HealthCheckResult.Unhealthy("Redis did not answer PING.", ex);
            }
        }
    }
}
