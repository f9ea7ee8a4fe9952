using System.Globalization;
using Chat.Api.Extensions;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Chat.Api.Infrastructure;

/// <summary>
/// The answer to a request whose database work could not be done within <see cref="DatabaseOptions.RequestTimeout"/>:
/// 503 <c>database_unavailable</c> with <c>Retry-After</c> (docs/API.md, "When PostgreSQL is unavailable"). It comes
/// from the request timeout (<see cref="WriteAsync"/>, the default <see cref="RequestTimeoutPolicy"/>'s response) or from
/// <see cref="ApiExceptionHandler"/> when the database failed first (<see cref="IsCause"/>).
/// </summary>
internal static class DatabaseUnavailable
{
    public static RequestTimeoutPolicy Policy(DatabaseOptions options) => new()
    {
        Timeout = options.RequestTimeout,
        TimeoutStatusCode = StatusCodes.Status503ServiceUnavailable,
        WriteTimeoutResponse = WriteAsync,
    };

    /// <summary>
    /// Lifts the bound once a request's database work is done and it goes on to wait for a model (a synchronous reply,
    /// an SSE stream), whose own limits then apply.
    /// </summary>
    public static void LiftBound(HttpContext http) => http.Features.Get<IHttpRequestTimeoutFeature>()?.DisableTimeout();

    /// <summary>
    /// Whether <paramref name="exception"/> says the database could not be reached or used for now: a transient Npgsql
    /// failure (refused or broken connection, a timeout, the server shutting down or starting), or EF Core's retries spent.
    /// </summary>
    public static bool IsCause(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is NpgsqlException { IsTransient: true } or RetryLimitExceededException)
            {
                return true;
            }
        }
        return false;
    }

    public static async Task WriteAsync(HttpContext context)
    {
        var options = context.RequestServices.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        ApiTrace.DatabaseUnavailable(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(DatabaseUnavailable).FullName!),
            context.Request.Method, context.Request.Path);
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = ((int)Math.Ceiling(options.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "The database is unavailable.",
                Detail = "PostgreSQL did not answer in time; retry after the time in Retry-After.",
                Extensions = { ["code"] = ProblemCodes.DatabaseUnavailable },
            },
        });
    }
}
