using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace Chat.Api.Infrastructure;

/// <summary>
/// Turns every exception into problem details without its text: a request the framework could not bind (malformed
/// JSON, a query value of the wrong type, a body too large) is the client's 4xx; a database that cannot be reached is
/// 503 <c>database_unavailable</c> (<see cref="DatabaseUnavailable"/>); anything else is a logged 500.
/// </summary>
internal sealed partial class ApiExceptionHandler(IProblemDetailsService problems, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nobody is left to read a body.
            context.Response.StatusCode = StatusCodes.Status499ClientClosedRequest;
            return true;
        }

        if (DatabaseUnavailable.IsCause(exception))
        {
            await DatabaseUnavailable.WriteAsync(context);
            return true;
        }

        var errors = FieldErrors(exception);
        var (status, code, title) = Classify(exception, errors is not null);
        if (status >= 500)
        {
            ApiTrace.UnhandledException(logger, context.Request.Method, context.Request.Path, exception);
        }
        else
        {
            ApiTrace.BadRequest(logger, context.Request.Method, context.Request.Path, status, exception.Message);
        }

        context.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            // Deliberately no Exception: the writer must not be tempted to describe it.
            ProblemDetails = errors is null
                ? new ProblemDetails { Status = status, Title = title, Extensions = { ["code"] = code } }
                : new HttpValidationProblemDetails(errors) { Status = status, Title = title, Extensions = { ["code"] = code } },
        });
    }

    /// <summary>The field a binding failure names, with a fixed message (never the parser's), or null.</summary>
    private static Dictionary<string, string[]>? FieldErrors(Exception exception)
    {
        if (exception is BadHttpRequestException { InnerException: JsonException json })
        {
            // The JSON path (e.g. "$.title") comes from the client's own document; the parser's message does not.
            return new Dictionary<string, string[]> { [json.Path ?? "$"] = ["The value is not valid JSON for this field."] };
        }
        if (exception is BadHttpRequestException bind && BindFailure().Match(bind.Message) is { Success: true } match)
        {
            // "Failed to bind parameter "Nullable<int> limit" from "abc"": a query or route value of the wrong type.
            // The C# parameter name; clients know it camel-cased (as in the query string and the OpenAPI document).
            var name = match.Groups["name"].Value;
            return new Dictionary<string, string[]> { [JsonNamingPolicy.CamelCase.ConvertName(name)] = ["The value is not valid for this parameter."] };
        }
        return null;
    }

    private static (int Status, string Code, string Title) Classify(Exception exception, bool hasFieldErrors) => exception switch
    {
        BadHttpRequestException { InnerException: JsonException } =>
            (StatusCodes.Status400BadRequest, ProblemCodes.MalformedJson, "The request body is not valid JSON for this operation."),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
            (StatusCodes.Status413PayloadTooLarge, ProblemCodes.RequestTooLarge, "The request body is too large."),
        BadHttpRequestException { StatusCode: StatusCodes.Status415UnsupportedMediaType } =>
            (StatusCodes.Status415UnsupportedMediaType, ProblemCodes.UnsupportedMediaType, "Send the body as application/json."),
        BadHttpRequestException { StatusCode: StatusCodes.Status400BadRequest } when hasFieldErrors =>
            (StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed, "The request is not valid."),
        BadHttpRequestException bad =>
            (bad.StatusCode, ProblemCodes.ForStatus(bad.StatusCode), "The request could not be read."),
        _ => (StatusCodes.Status500InternalServerError, ProblemCodes.InternalError, "An unexpected error occurred."),
    };

    [GeneratedRegex("^Failed to bind parameter \"[^\"]* (?<name>[A-Za-z_][A-Za-z0-9_]*)\" from ", RegexOptions.CultureInvariant)]
    private static partial Regex BindFailure();
}
