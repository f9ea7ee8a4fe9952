using System.Globalization;
using System.Threading.RateLimiting;
using Chat.Gateway.Infrastructure;
using Chat.ServiceDefaults;
using Chat.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Chat.Gateway.Extensions;

internal static class GatewayExtensions
{
    /// <summary>Route policy names used in appsettings.json's ReverseProxy routes.</summary>
    public const string UserPolicy = "chat-user";
    public const string GenerationsLimiter = "generations";

    public static WebApplicationBuilder AddGatewayEdge(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<GatewayOptions>()
            .BindConfiguration(GatewayOptions.SectionName)
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        var options = builder.Configuration.GetSection(GatewayOptions.SectionName).Get<GatewayOptions>() ?? new GatewayOptions();

        // Problem bodies carry the request id a client quotes: the same one the services log, since the gateway forwards it.
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx => ctx.ProblemDetails.Extensions.Remove("traceId"));
        builder.Services.AddRequestIdToProblemDetails();
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes);

        // First line of defence: tokens are validated here (the services validate again).
        builder.AddChatAuthentication(allowQueryStringToken: true);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(UserPolicy, p => p.RequireAuthenticatedUser().RequireAssertion(ctx => ChatUser.TryFrom(ctx.User, out _)));

        builder.Services.AddCors(cors => cors.AddDefaultPolicy(policy =>
        {
            var origins = options.AllowedOrigins;
            policy.WithOrigins(origins)
                .AllowAnyMethod()
                .WithHeaders("Authorization", "Content-Type", "If-Match", "Last-Event-ID", "X-Request-Id", "Accept")
                .WithExposedHeaders("ETag", "Location", "X-Request-Id", "Retry-After")
                .SetPreflightMaxAge(TimeSpan.FromMinutes(10));
        }));

        builder.Services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost;
            o.ForwardLimit = 1;
        });

        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                // Probes are not traffic.
                if (context.Request.Path.StartsWithSegments(ServiceDefaultsExtensions.HealthPath)
                    || context.Request.Path.StartsWithSegments(ServiceDefaultsExtensions.AlivePath))
                {
                    return RateLimitPartition.GetNoLimiter("probes");
                }
                var settings = context.RequestServices.GetRequiredService<IOptions<GatewayOptions>>().Value.RateLimit;
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
            });
            limiter.AddPolicy(GenerationsLimiter, context =>
            {
                var settings = context.RequestServices.GetRequiredService<IOptions<GatewayOptions>>().Value.RateLimit;
                var key = ChatUser.TryFrom(context.User, out var user) ? $"{user.TenantId}/{user.UserId}" : $"ip:{context.Connection.RemoteIpAddress}";
                return RateLimitPartition.GetConcurrencyLimiter(key, _ => new ConcurrencyLimiterOptions
                {
                    PermitLimit = settings.ConcurrentGenerationsPerUser,
                    QueueLimit = 0,
                });
            });
            limiter.OnRejected = async (rejected, cancellationToken) =>
            {
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                rejected.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await ProblemResponses.WriteAsync(rejected.HttpContext, StatusCodes.Status429TooManyRequests, "rate_limited",
                    "Too many requests", $"Slow down; retry after {seconds} s.");
            };
        });

        // A probe asks once: the default resilience handler's retries kept /health waiting for seconds on a dead destination.
        // Its deadline is the health check's (HealthChecks:Timeout in appsettings.json).
#pragma warning disable EXTEXP0001 // Evaluation API, the only way to take back the handler ConfigureHttpClientDefaults adds.
        builder.Services.AddHttpClient(DestinationHealthCheck.HttpClientName).RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        builder.Services.AddHealthChecks()
            .Add(new HealthCheckRegistration("chat-api", sp => new DestinationHealthCheck(sp.GetRequiredService<IHttpClientFactory>(), "chat-api"), HealthStatus.Unhealthy, null))
            .Add(new HealthCheckRegistration("chat-streaming", sp => new DestinationHealthCheck(sp.GetRequiredService<IHttpClientFactory>(), "chat-streaming"), HealthStatus.Unhealthy, null));

        return builder;
    }

    /// <summary>The edge pipeline, in order: client address, request id, headers, methods, CORS, the web client, body limit, identity, limits.</summary>
    public static WebApplication UseGatewayEdge(this WebApplication app)
    {
        app.UseForwardedHeaders();
        // First, so every answer (the gateway's own errors too) carries the id, and the services receive it.
        app.UseRequestId();
        app.UseSecurityHeaders();
        app.UseKnownMethodsOnly();
        app.UseCors();
        // The web client (wwwroot) is public: it signs in itself.
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions
        {
            OnPrepareResponse = ctx => ctx.Context.Response.Headers.CacheControl = "no-cache",
        });
        app.Use(RejectOversizeBodies);
        app.UseWebSockets();
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        return app;
    }

    private static Task RejectOversizeBodies(HttpContext context, RequestDelegate next)
    {
        var limit = context.RequestServices.GetRequiredService<IOptions<GatewayOptions>>().Value.MaxRequestBodyBytes;
        return context.Request.ContentLength > limit
            ? ProblemResponses.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "payload_too_large",
                "Request body too large", $"The gateway accepts bodies up to {limit} bytes.")
            : next(context);
    }
}
