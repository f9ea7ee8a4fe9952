using Chat.ServiceDefaults;
using Yarp.ReverseProxy.Forwarder;

namespace Chat.Gateway.Infrastructure;

/// <summary>
/// Turns YARP's empty 502/503/504 into the problem details every other answer uses (docs/API.md, "Gateway errors"):
/// a client sees a stable <c>code</c> and the request id to quote, never an empty body.
/// </summary>
internal static partial class UpstreamErrors
{
    public const string UnavailableCode = "upstream_unavailable";
    public const string TimeoutCode = "upstream_timeout";
    public const string FailedCode = "upstream_failed";

    /// <summary>Last step of the proxy pipeline: runs the forwarder, then answers for it if it failed before any response byte went out.</summary>
    public static IReverseProxyApplicationBuilder UseUpstreamErrors(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.Use(async (context, next) =>
        {
            await next();
            if (context.Features.Get<IForwarderErrorFeature>() is not { } failure || context.Response.HasStarted)
            {
                return;
            }
            var (status, code, title) = failure.Error switch
            {
                // No replica took the connection (or none is left to try): nothing reached a service.
                ForwarderError.Request or ForwarderError.NoAvailableDestinations =>
                    (StatusCodes.Status503ServiceUnavailable, UnavailableCode, "Service unavailable"),
                ForwarderError.RequestTimedOut => (StatusCodes.Status504GatewayTimeout, TimeoutCode, "Upstream timeout"),
                ForwarderError.RequestBodyDestination or ForwarderError.ResponseHeaders or ForwarderError.RequestCreation =>
                    (StatusCodes.Status502BadGateway, FailedCode, "Upstream failure"),
                // The client went away or sent a broken body: YARP's status stands, and nobody is listening for a body.
                _ => (0, "", ""),
            };
            if (status == 0)
            {
                return;
            }
            var route = context.GetReverseProxyFeature().Route.Config.RouteId;
            LogUpstreamFailed(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(UpstreamErrors).FullName!),
                route, failure.Error, status, failure.Exception);
            if (status == StatusCodes.Status503ServiceUnavailable)
            {
                context.Response.Headers.RetryAfter = "1";
            }
            await ProblemResponses.WriteAsync(context, status, code, title,
                status == StatusCodes.Status504GatewayTimeout ? "The service did not answer in time." : "The service is not reachable right now; retry shortly.");
        });
        return proxy;
    }

    [LoggerMessage(1, LogLevel.Warning, "Forwarding on route {Route} failed ({Error}); answered {Status}")]
    private static partial void LogUpstreamFailed(ILogger logger, string route, ForwarderError error, int status, Exception? exception);
}
