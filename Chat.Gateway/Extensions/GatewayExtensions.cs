using Chat.Gateway.Infrastructure;
using Chat.ServiceDefaults;
using Chat.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Chat.Gateway.Extensions;

internal static class GatewayExtensions
{
    /// <summary>Route policy name used in appsettings.json's ReverseProxy routes.</summary>
    public const string UserPolicy = "chat-user";

    /// <summary>Everything the edge pipeline (<see cref="UseGatewayEdge"/>) needs: options, errors, identity, browsers, limits, probes.</summary>
    public static WebApplicationBuilder AddGatewayEdge(this WebApplicationBuilder builder)
    {
        var options = builder.AddGatewayOptions();

        // Problem bodies carry the request id a client quotes: the same one the services log, since the gateway forwards it.
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx => ctx.ProblemDetails.Extensions.Remove("traceId"));
        builder.Services.AddRequestIdToProblemDetails();
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes);

        // First line of defence: tokens are validated here (the services validate again).
        builder.AddChatAuthentication(allowQueryStringToken: true);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(UserPolicy, p => p.RequireAuthenticatedUser().RequireAssertion(ctx => ChatUser.TryFrom(ctx.User, out _)));

        builder.Services.AddBrowserAccess(options.AllowedOrigins);
        builder.Services.AddGatewayRateLimiting();
        builder.Services.AddDestinationHealthChecks();
        return builder;
    }

    /// <summary>Binds and validates <see cref="GatewayOptions"/>, and returns them as configured now (for what is fixed at start-up).</summary>
    private static GatewayOptions AddGatewayOptions(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<GatewayOptions>()
            .BindConfiguration(GatewayOptions.SectionName)
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        return builder.Configuration.GetSection(GatewayOptions.SectionName).Get<GatewayOptions>() ?? new GatewayOptions();
    }

    /// <summary>CORS for the allowed origins, and the client address and scheme from the one proxy in front.</summary>
    private static void AddBrowserAccess(this IServiceCollection services, string[] allowedOrigins)
    {
        services.AddCors(cors => cors.AddDefaultPolicy(policy => policy.WithOrigins(allowedOrigins)
            .AllowAnyMethod()
            .WithHeaders("Authorization", "Content-Type", "If-Match", "Last-Event-ID", "X-Request-Id", "Accept")
            .WithExposedHeaders("ETag", "Location", "X-Request-Id", "Retry-After")
            .SetPreflightMaxAge(TimeSpan.FromMinutes(10))));

        services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost;
            o.ForwardLimit = 1;
        });
    }

    /// <summary>The gateway's /health asks each destination's own.</summary>
    private static void AddDestinationHealthChecks(this IServiceCollection services)
    {
        // A probe asks once: the default resilience handler's retries kept /health waiting for seconds on a dead destination.
        // Its deadline is the health check's (HealthChecks:Timeout in appsettings.json).
#pragma warning disable EXTEXP0001 // Evaluation API, the only way to take back the handler ConfigureHttpClientDefaults adds.
        services.AddHttpClient(DestinationHealthCheck.HttpClientName).RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        services.AddHealthChecks()
            .Add(new HealthCheckRegistration("chat-api", sp => new DestinationHealthCheck(sp.GetRequiredService<IHttpClientFactory>(), "chat-api"), HealthStatus.Unhealthy, null))
            .Add(new HealthCheckRegistration("chat-streaming", sp => new DestinationHealthCheck(sp.GetRequiredService<IHttpClientFactory>(), "chat-streaming"), HealthStatus.Unhealthy, null));
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
