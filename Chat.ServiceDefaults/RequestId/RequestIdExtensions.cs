using Chat.ServiceDefaults.RequestId;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

public static class RequestIdExtensions
{
    /// <summary>
    /// Accepts or generates <c>X-Request-Id</c> (see <see cref="RequestIdMiddleware"/>). Put it first so that every
    /// response, errors included, carries the id.
    /// </summary>
    public static IApplicationBuilder UseRequestId(this IApplicationBuilder app) => app.UseMiddleware<RequestIdMiddleware>();

    /// <summary>
    /// Adds <c>requestId</c> (the request's <see cref="HttpContext.TraceIdentifier"/>, which <see cref="RequestIdMiddleware"/>
    /// sets) to every problem written through <see cref="IProblemDetailsService"/>, after any customisation already
    /// configured. A service adopts request ids with this and <see cref="UseRequestId"/>.
    /// </summary>
    public static IServiceCollection AddRequestIdToProblemDetails(this IServiceCollection services) =>
        services.Configure<ProblemDetailsOptions>(options =>
        {
            var previous = options.CustomizeProblemDetails;
            options.CustomizeProblemDetails = context =>
            {
                previous?.Invoke(context);
                context.ProblemDetails.Extensions["requestId"] = context.HttpContext.TraceIdentifier;
            };
        });
}
