using System.Globalization;
using System.Threading.RateLimiting;
using Chat.ServiceDefaults;
using Chat.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Chat.Gateway.Extensions;

/// <summary>
/// The gateway's request limits (<see cref="GatewayOptions.RateLimit"/>): a token bucket per user (or per client address
/// before sign-in) for every request, a concurrency limit per user on generations, and a 429 problem with
/// <c>Retry-After</c> for a refused request.
/// </summary>
internal static class GatewayRateLimiting
{
    /// <summary>Route policy name used in appsettings.json's ReverseProxy routes.</summary>
    public const string GenerationsLimiter = "generations";

    public static IServiceCollection AddGatewayRateLimiting(this IServiceCollection services) =>
        services.AddRateLimiter(limiter =>
        {
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(RequestPartition);
            limiter.AddPolicy(GenerationsLimiter, GenerationsPartition);
            limiter.OnRejected = WriteRejectionAsync;
        });

    private static RateLimitPartition<string> RequestPartition(HttpContext context)
    {
        // Probes are not traffic.
        if (context.Request.Path.StartsWithSegments(ServiceDefaultsExtensions.HealthPath)
            || context.Request.Path.StartsWithSegments(ServiceDefaultsExtensions.AlivePath))
        {
            return RateLimitPartition.GetNoLimiter("probes");
        }
        var settings = Settings(context);
        var (key, permits) = ChatUser.TryFrom(context.User, out var user)
            ? ($"user:{user.TenantId}/{user.UserId}", settings.UserPermits)
            : ($"ip:{context.Connection.RemoteIpAddress}", settings.AnonymousPermits);
        return RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = permits,
            TokensPerPeriod = Math.Max(1, permits / 10),
            ReplenishmentPeriod = settings.Window / 10,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    private static RateLimitPartition<string> GenerationsPartition(HttpContext context)
    {
        var settings = Settings(context);
        var key = ChatUser.TryFrom(context.User, out var user) ? $"{user.TenantId}/{user.UserId}" : $"ip:{context.Connection.RemoteIpAddress}";
        return RateLimitPartition.GetConcurrencyLimiter(key, _ => new ConcurrencyLimiterOptions
        {
            PermitLimit = settings.ConcurrentGenerationsPerUser,
            QueueLimit = 0,
        });
    }

    private static async ValueTask WriteRejectionAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        rejected.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await ProblemResponses.WriteAsync(rejected.HttpContext, StatusCodes.Status429TooManyRequests, "rate_limited",
            "Too many requests", $"Slow down; retry after {seconds} s.");
    }

    private static RateLimitSettings Settings(HttpContext context) =>
        context.RequestServices.GetRequiredService<IOptions<GatewayOptions>>().Value.RateLimit;
}
