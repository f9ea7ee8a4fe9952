using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Cross-cutting defaults every Chat service takes: OpenTelemetry (OTLP to the Aspire dashboard), health checks,
/// service discovery and standard HTTP resilience. Generic over the builder so web apps and workers share it.
/// </summary>
public static class ServiceDefaultsExtensions
{
    public const string HealthPath = "/health";
    public const string AlivePath = "/alive";

    /// <summary>Tag of checks that belong to liveness (<c>/alive</c>): the process itself, not its dependencies.</summary>
    public const string LiveTag = "live";

    /// <summary>The name every service gives the check of its database, shown as <c>checks.database</c>.</summary>
    public const string DatabaseCheck = "database";

    /// <summary>The name every service gives the check of its Redis connection, shown as <c>checks.redis</c>.</summary>
    public const string RedisCheck = "redis";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });

        return builder;
    }

    /// <summary>Additional activity sources a service registers for its own spans (a generation, a fan-out).</summary>
    public static TBuilder AddActivitySource<TBuilder>(this TBuilder builder, string name) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.ConfigureOpenTelemetryTracerProvider(t => t.AddSource(name));
        builder.Services.ConfigureOpenTelemetryMeterProvider(m => m.AddMeter(name));
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation())
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName)
                .AddAspNetCoreInstrumentation(o =>
                    // Probes would drown the traces.
                    o.Filter = ctx => !ctx.Request.Path.StartsWithSegments(HealthPath)
                                      && !ctx.Request.Path.StartsWithSegments(AlivePath))
                .AddHttpClientInstrumentation());

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        // After every registration (PostConfigure), so checks that libraries and services add later are bounded too.
        builder.Services.AddOptions<HealthCheckSettings>().BindConfiguration(HealthCheckSettings.SectionName)
            .Validate(s => s.IsValid, "HealthChecks:Timeout must be between 50 ms and 30 s.").ValidateOnStart();
        builder.Services.AddOptions<HealthCheckServiceOptions>()
            .PostConfigure<IOptions<HealthCheckSettings>>((options, settings) => BoundedHealthCheck.BoundAll(options, settings.Value));
        return builder;
    }

    /// <summary>
    /// Maps <c>/health</c> (every check; 503 when any dependency is down) and <c>/alive</c> (liveness only).
    /// Both are mapped in every environment: orchestrators probe them in production too. The body names no
    /// exception text, only each check's state.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app, string? serviceName = null)
    {
        var service = serviceName ?? app.Environment.ApplicationName;
        var version = typeof(ServiceDefaultsExtensions).Assembly
            .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion?.Split('+')[0] ?? "0.0.0";

        app.MapHealthChecks(HealthPath, new HealthCheckOptions
        {
            ResponseWriter = (ctx, report) => WriteHealthAsync(ctx, report, service, version),
        }).DisableHttpMetrics();

        app.MapHealthChecks(AlivePath, new HealthCheckOptions
        {
            Predicate = r => r.Tags.Contains(LiveTag),
            ResponseWriter = (ctx, report) => WriteHealthAsync(ctx, report, service, version),
        }).DisableHttpMetrics();

        return app;
    }

    private static Task WriteHealthAsync(HttpContext context, HealthReport report, string service, string version)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        var checks = report.Entries
            .Where(e => e.Key != "self")
            .ToDictionary(e => e.Key, e => Describe(e.Key, e.Value.Status));
        var body = new HealthBody(
            report.Status == HealthStatus.Unhealthy ? "unhealthy" : report.Status == HealthStatus.Degraded ? "degraded" : "healthy",
            service,
            version,
            checks,
            Math.Round(report.TotalDuration.TotalMilliseconds, 1));
        return JsonSerializer.SerializeAsync(context.Response.Body, body, HealthJsonContext.Default.HealthBody, context.RequestAborted);
    }

    private static string Describe(string name, HealthStatus status) => (name, status) switch
    {
        (DatabaseCheck or RedisCheck, HealthStatus.Healthy) => "connected",
        (DatabaseCheck or RedisCheck, _) => "disconnected",
        (_, HealthStatus.Healthy) => "healthy",
        (_, HealthStatus.Degraded) => "degraded",
        _ => "unhealthy",
    };
}
