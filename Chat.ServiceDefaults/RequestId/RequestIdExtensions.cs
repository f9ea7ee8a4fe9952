using Chat.ServiceDefaults.RequestId;

namespace Microsoft.AspNetCore.Builder;

public static class RequestIdExtensions
{
    /// <summary>
    /// Accepts or generates <c>X-Request-Id</c> (see <see cref="RequestIdMiddleware"/>). Put it first so that every
    /// response, errors included, carries the id.
    /// </summary>
    public static IApplicationBuilder UseRequestId(this IApplicationBuilder app) => app.UseMiddleware<RequestIdMiddleware>();
}
