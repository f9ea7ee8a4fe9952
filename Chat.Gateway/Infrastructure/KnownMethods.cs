using Chat.ServiceDefaults;
using Microsoft.AspNetCore.Http.Features;

namespace Chat.Gateway.Infrastructure;

/// <summary>
/// Refuses, at the edge, the methods nothing behind the gateway serves (CONNECT, TRACE, anything invented): 405
/// <c>method_not_allowed</c> with <c>Allow</c>, rather than forwarding them to a service or failing with 502.
/// </summary>
internal static class KnownMethods
{
    /// <summary>Every method some route forwards or the gateway serves itself.</summary>
    public const string Allow = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

    public static IApplicationBuilder UseKnownMethodsOnly(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        var method = context.Request.Method;
        // An HTTP/2 WebSocket arrives as an extended CONNECT (RFC 8441): that one is a socket, not a tunnel.
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsPost(method) || HttpMethods.IsPut(method)
            || HttpMethods.IsPatch(method) || HttpMethods.IsDelete(method) || HttpMethods.IsOptions(method)
            || context.Features.Get<IHttpExtendedConnectFeature>()?.IsExtendedConnect == true)
        {
            return next(context);
        }
        context.Response.Headers.Allow = Allow;
        return ProblemResponses.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, "method_not_allowed",
            "Method not allowed", "This method is not served here.");
    });
}
