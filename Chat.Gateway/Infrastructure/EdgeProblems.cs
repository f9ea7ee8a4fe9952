using Microsoft.AspNetCore.Mvc;

namespace Chat.Gateway.Infrastructure;

/// <summary>Problem-details answers the gateway gives itself (401, 403, 413, 429), in the services' format.</summary>
internal static class EdgeProblems
{
    public static Task WriteAsync(HttpContext context, int status, string code, string title, string? detail = null)
    {
        context.Response.StatusCode = status;
        var problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        return problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails
            {
                Status = status,
                Title = title,
                Detail = detail,
                Extensions = { ["code"] = code },
            },
        }).AsTask();
    }
}
