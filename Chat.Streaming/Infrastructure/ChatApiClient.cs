using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Chat.Streaming.Protocol;
using Chat.Streaming.Services;

namespace Chat.Streaming.Infrastructure;

/// <summary>What Chat.Api answered to <c>message.send</c>: the ids the <c>ack</c> frame carries.</summary>
public sealed record SendResult(Guid? MessageId, Guid? GenerationId, Guid? AssistantMessageId);

/// <summary>An API call's outcome: a value, or the <c>error</c> frame's code and message.</summary>
public sealed record ApiResult<T>(T? Value, string? ErrorCode, string? ErrorMessage)
{
    public bool Succeeded => ErrorCode is null;
}

public static class ApiResult
{
    public static ApiResult<T> Ok<T>(T value) => new(value, null, null);

    public static ApiResult<T> Fail<T>(string code, string message) => new(default, code, message);
}

public sealed record SendMessageRequest(
    [property: JsonPropertyName("content")] string Content,
    [property: JsonPropertyName("clientMessageId")] string ClientMessageId,
    [property: JsonPropertyName("model")] string? Model,
    [property: JsonPropertyName("provider")] string? Provider);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SendMessageRequest))]
internal sealed partial class ChatApiJsonContext : JsonSerializerContext;

/// <summary>
/// Typed client of Chat.Api (<c>http://chat-api</c> through service discovery). Every call carries the caller's own
/// bearer token, so the API applies its tenant/user isolation; Chat.Streaming never reads the database.
/// The exact contract is in docs/PROTOCOL.md, "Chat.Api contract".
/// </summary>
public sealed class ChatApiClient(HttpClient http, ILogger<ChatApiClient> logger)
{
    public const string RespondAsync = "respond-async";

    /// <summary><c>GET /api/v1/conversations/{id}</c>: 200 means the caller may read (and so subscribe to) it.</summary>
    public async Task<ApiResult<bool>> CanReadConversationAsync(Guid conversationId, string bearerToken, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/conversations/{conversationId}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearerToken);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return ApiResult.Ok<bool>(true);
            }
            return await FailureAsync<bool>(response, "GET conversation", cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            StreamingLog.ApiUnreachable(logger, ex, "GET conversation");
            return ApiResult.Fail<bool>(ErrorCodes.ApiUnavailable, "The conversation service is unavailable; try again.");
        }
    }

    /// <summary>
    /// <c>POST /api/v1/conversations/{id}/messages</c> with <c>Prefer: respond-async</c>: the API stores the user message,
    /// starts the generation (which publishes to Redis) and answers 202 at once.
    /// </summary>
    public async Task<ApiResult<SendResult>> SendMessageAsync(Guid conversationId, SendMessageRequest body, string bearerToken, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/conversations/{conversationId}/messages")
        {
            Content = JsonContent.Create(body, ChatApiJsonContext.Default.SendMessageRequest),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearerToken);
        request.Headers.TryAddWithoutValidation("Prefer", RespondAsync);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return await FailureAsync<SendResult>(response, "POST message", cancellationToken);
            }
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            using var document = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken);
            return ApiResult.Ok<SendResult>(ReadSendResult(document.RootElement));
        }
        catch (JsonException)
        {
            StreamingLog.ApiUnexpected(logger, "POST message (unreadable body)", 200);
            return ApiResult.Fail<SendResult>(ErrorCodes.ApiUnavailable, "The conversation service gave an unreadable answer.");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            StreamingLog.ApiUnreachable(logger, ex, "POST message");
            return ApiResult.Fail<SendResult>(ErrorCodes.ApiUnavailable, "The conversation service is unavailable; try again.");
        }
    }

    /// <summary>Tolerates the shapes in docs/PROTOCOL.md: nested objects (<c>userMessage.id</c>, <c>generation.id</c>) or flat ids.</summary>
    internal static SendResult ReadSendResult(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return new SendResult(null, null, null);
        }
        var messageId = Nested(root, "userMessage", "id") ?? Flat(root, "messageId") ?? Flat(root, "userMessageId") ?? Nested(root, "message", "id");
        var generationId = Nested(root, "generation", "id") ?? Flat(root, "generationId");
        var assistantId = Flat(root, "assistantMessageId") ?? Nested(root, "assistantMessage", "id")
            ?? Nested(root, "generation", "messageId") ?? Nested(root, "generation", "assistantMessageId");
        return new SendResult(messageId, generationId, assistantId);
    }

    private static Guid? Flat(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.String && Guid.TryParse(e.GetString(), out var g) ? g : null;

    private static Guid? Nested(JsonElement obj, string parent, string name) =>
        obj.TryGetProperty(parent, out var p) && p.ValueKind == JsonValueKind.Object ? Flat(p, name) : null;

    private async Task<ApiResult<T>> FailureAsync<T>(HttpResponseMessage response, string operation, CancellationToken cancellationToken)
    {
        var (problemCode, title) = await ReadProblemAsync(response, cancellationToken);
        var status = (int)response.StatusCode;
        switch (response.StatusCode)
        {
            case HttpStatusCode.NotFound:
                // Never say more than "not found": another tenant's conversation looks exactly like a missing one.
                return ApiResult.Fail<T>(ErrorCodes.ConversationNotFound, "The conversation does not exist.");
            case HttpStatusCode.Unauthorized:
                return ApiResult.Fail<T>(ErrorCodes.Unauthorized, "The token was refused.");
            case HttpStatusCode.Forbidden:
                return ApiResult.Fail<T>(problemCode ?? ErrorCodes.Forbidden, title ?? "The token lacks the scope for this operation.");
            case HttpStatusCode.Conflict:
                return ApiResult.Fail<T>(problemCode ?? ErrorCodes.Conflict, title ?? "The request conflicts with the conversation's state.");
            case HttpStatusCode.TooManyRequests:
                return ApiResult.Fail<T>(ErrorCodes.ApiRateLimited, "Too many requests; slow down.");
            case >= HttpStatusCode.BadRequest and < HttpStatusCode.InternalServerError:
                return ApiResult.Fail<T>(problemCode ?? ErrorCodes.ValidationFailed, title ?? "The request was refused.");
            default:
                StreamingLog.ApiUnexpected(logger, operation, status);
                return ApiResult.Fail<T>(ErrorCodes.ApiUnavailable, "The conversation service is unavailable; try again.");
        }
    }

    /// <summary>Reads <c>code</c> and <c>title</c> of an RFC 7807 body; codes are passed on only when they look like codes.</summary>
    private static async Task<(string? Code, string? Title)> ReadProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            if (bytes.Length is 0 or > 64 * 1024)
            {
                return (null, null);
            }
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, null);
            }
            string? code = root.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            if (code is not null && (code.Length > 64 || !code.All(ch => ch is (>= 'a' and <= 'z') or '_' or '.' or (>= '0' and <= '9'))))
            {
                code = null;
            }
            string? title = root.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            return (code, title is { Length: <= 200 } ? title : null);
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }
}
