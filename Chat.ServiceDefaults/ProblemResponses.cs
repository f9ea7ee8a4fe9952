using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.ServiceDefaults;

/// <summary>
/// Writes a service's own answers (401, 403, 413, 429) as RFC 7807 problem details with a stable <c>code</c>, through
/// <see cref="IProblemDetailsService"/> when it can (so customisations such as the request id apply), else as plain
/// <c>application/problem+json</c> (e.g. for a request that accepts only <c>text/event-stream</c>).
/// </summary>
public static class ProblemResponses
{
    public static async Task WriteAsync(HttpContext context, int status, string code, string title, string detail)
    {
        context.Response.StatusCode = status;
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail, Extensions = { ["code"] = code } };
        var service = context.RequestServices.GetService<IProblemDetailsService>();
        if (service is null || !await service.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }))
        {
            await context.Response.WriteAsJsonAsync(problem, ProblemJsonContext.Default.ProblemDetails, contentType: "application/problem+json", context.RequestAborted);
        }
    }
}

/// <summary>Problem details as JSON without reflection (the extension values are strings).</summary>
[JsonSerializable(typeof(ProblemDetails))]
[JsonSerializable(typeof(string))]
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
internal sealed partial class ProblemJsonContext : JsonSerializerContext;
