using Microsoft.AspNetCore.Http.HttpResults;

namespace Chat.Api.Infrastructure;

/// <summary>The stable, machine-readable <c>code</c> of every problem the API returns (documented in docs/API.md).</summary>
public static class ProblemCodes
{
    public const string ValidationFailed = "validation_failed";
    public const string InvalidRequest = "invalid_request";
    public const string MalformedJson = "malformed_json";
    public const string InvalidCursor = "invalid_cursor";
    public const string ContentTooLarge = "content_too_large";
    public const string RequestTooLarge = "request_too_large";
    public const string ConversationNotFound = "conversation_not_found";
    public const string MessageNotFound = "message_not_found";
    public const string ConversationArchived = "conversation_archived";
    public const string PreconditionFailed = "precondition_failed";
    public const string Unauthorized = "unauthorized";
    public const string Forbidden = "forbidden";
    public const string NotFound = "not_found";
    public const string MethodNotAllowed = "method_not_allowed";
    public const string UnsupportedMediaType = "unsupported_media_type";
    public const string DevTokenUnavailable = "dev_token_unavailable";
    public const string InternalError = "internal_error";
    public const string QueueFull = "queue_full";
    public const string DatabaseUnavailable = "database_unavailable";
    public const string GenerationNotFound = "generation_not_found";
    public const string GenerationFinished = "generation_finished";

    /// <summary>The code of a problem the framework produced with only a status (auth, routing, status code pages).</summary>
    public static string ForStatus(int status) => status switch
    {
        StatusCodes.Status400BadRequest => InvalidRequest,
        StatusCodes.Status401Unauthorized => Unauthorized,
        StatusCodes.Status403Forbidden => Forbidden,
        StatusCodes.Status404NotFound => NotFound,
        StatusCodes.Status405MethodNotAllowed => MethodNotAllowed,
        StatusCodes.Status412PreconditionFailed => PreconditionFailed,
        StatusCodes.Status413PayloadTooLarge => RequestTooLarge,
        StatusCodes.Status415UnsupportedMediaType => UnsupportedMediaType,
        >= 500 => InternalError,
        _ => $"http_{status}",
    };
}

/// <summary>Problem details results with their codes; handlers return these instead of building bodies by hand.</summary>
public static class ApiProblems
{
    public static ProblemHttpResult Problem(int status, string code, string title, string? detail = null) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title,
            extensions: new Dictionary<string, object?> { ["code"] = code });

    public static ProblemHttpResult Validation(IDictionary<string, string[]> errors) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "The request is not valid.",
            Extensions = { ["code"] = ProblemCodes.ValidationFailed },
        });

    public static ProblemHttpResult Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    public static ProblemHttpResult InvalidCursor(string field) =>
        TypedResults.Problem(new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = ["The cursor is not valid."] })
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "The cursor is not valid.",
            Extensions = { ["code"] = ProblemCodes.InvalidCursor },
        });

    public static ProblemHttpResult ConversationNotFound() =>
        Problem(StatusCodes.Status404NotFound, ProblemCodes.ConversationNotFound, "The conversation was not found.");

    public static ProblemHttpResult MessageNotFound() =>
        Problem(StatusCodes.Status404NotFound, ProblemCodes.MessageNotFound, "The message was not found.");

    public static ProblemHttpResult ConversationArchived() =>
        Problem(StatusCodes.Status409Conflict, ProblemCodes.ConversationArchived,
            "The conversation is archived.", "Unarchive it before posting messages.");

    public static ProblemHttpResult PreconditionFailed() =>
        Problem(StatusCodes.Status412PreconditionFailed, ProblemCodes.PreconditionFailed,
            "The conversation has changed.", "If-Match does not match the current ETag; read it again and retry.");

    /// <summary>A routing or provider failure, with the model layer's code (its message is safe to show).</summary>
    public static ProblemHttpResult Llm(Chat.Llm.LlmException error) => Problem(
        error.Code switch
        {
            Chat.Llm.LlmErrorCodes.ModelNotFound or Chat.Llm.LlmErrorCodes.ProviderNotFound
                or Chat.Llm.LlmErrorCodes.ContextTooLarge or "invalid_request" => StatusCodes.Status400BadRequest,
            Chat.Llm.LlmErrorCodes.RateLimited => StatusCodes.Status429TooManyRequests,
            Chat.Llm.LlmErrorCodes.TotalTimeout or Chat.Llm.LlmErrorCodes.FirstTokenTimeout or Chat.Llm.LlmErrorCodes.IdleTimeout => StatusCodes.Status504GatewayTimeout,
            _ => StatusCodes.Status502BadGateway,
        },
        error.Code, "The model could not be used.", error.Message);

    public static ProblemHttpResult GenerationNotFound() =>
        Problem(StatusCodes.Status404NotFound, ProblemCodes.GenerationNotFound, "The generation was not found.");

    public static ProblemHttpResult ContentTooLarge(int maxBytes) =>
        Problem(StatusCodes.Status413PayloadTooLarge, ProblemCodes.ContentTooLarge,
            "The message content is too large.", $"Content may be at most {maxBytes} bytes of UTF-8.");
}
