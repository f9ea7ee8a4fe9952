using System.Diagnostics;
using System.Text.Json;
using Chat.Api.Apis;
using Chat.Api.Services;
using Chat.Api.Sse;

namespace Chat.Api.OpenAi;

/// <summary>
/// Answers <c>POST /v1/chat/completions</c> in OpenAI's shapes, for the state <see cref="ReplyResolver"/> gives: a
/// <c>chat.completion</c>, a stream of <c>chat.completion.chunk</c> events, or an OpenAI error object. A reply still
/// running when the wait ends is a 504 <c>reply_timeout</c> that says where the reply can be read (docs/API.md).
/// </summary>
public sealed class OpenAiResponder(ReplyResolver resolver, GenerationFollower follower)
{
    public async Task<IResult> RespondAsync(HttpContext http, ReplyStart start, ChatCompletionRequest request, CancellationToken cancellationToken)
    {
        var delivery = request.Stream == true ? ReplyResult.Delivery.Stream : ReplyResult.Delivery.Wait;
        var result = await resolver.ResolveAsync(http, start, delivery, cancellationToken);
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var assistant = start.Assistant;
        return result.State switch
        {
            ReplyState.NotFound => Error("conversation_not_found", "The conversation was not found.", OpenAiApi.ConversationHeader, StatusCodes.Status404NotFound),
            ReplyState.Archived => Error("conversation_archived", "The conversation is archived.", OpenAiApi.ConversationHeader, StatusCodes.Status409Conflict),
            ReplyState.RouteFailed => Error(result.ErrorCode!, start.Error!.Message, "model"),
            ReplyState.QueueFull => QueueFull(http),
            ReplyState.Existing => Error(OpenAiMapper.InvalidRequest, "This message was already sent."),
            ReplyState.Streaming => EventStream.Result(http.Response, ChatCompletionStream.Events(
                follower.Frames(assistant!.ConversationId, assistant.GenerationId!.Value, -1, start.Live, cancellationToken),
                assistant.Model ?? request.Model ?? "", created, request.IncludeUsage)),
            ReplyState.Completed => Results.Text(
                JsonSerializer.Serialize(OpenAiMapper.ToResponse(result.Outcome!, created), OpenAiJsonContext.Default.ChatCompletionResponse), "application/json"),
            ReplyState.Failed => Error(result.ErrorCode!, result.Outcome!.ErrorMessage ?? "The generation failed."),
            ReplyState.Cancelled => Error(OpenAiMapper.Cancelled, result.Outcome!.ErrorMessage ?? "The generation was cancelled."),
            ReplyState.StillRunning => StillRunning(http, assistant!.GenerationId!.Value),
            // Stored, Accepted: /v1 always asks for a reply, and waits for it or streams it.
            _ => throw new UnreachableException($"/v1 never asks for {result.State}."),
        };
    }

    /// <summary>An OpenAI error object for one of Chat's codes, with its mapped status unless <paramref name="status"/> is given.</summary>
    public static IResult Error(string code, string message, string? param = null, int? status = null)
    {
        var (mapped, body) = OpenAiMapper.ToError(code, message, param);
        return Results.Text(OpenAiMapper.Serialize(body), "application/json", statusCode: status ?? mapped);
    }

    private static IResult QueueFull(HttpContext http)
    {
        http.Response.Headers.RetryAfter = "1";
        return Error("queue_full", "Too many generations in progress; retry shortly.");
    }

    /// <summary>
    /// The reply goes on and is stored in the conversation (<c>X-Chat-Conversation-Id</c>); <c>Location</c> is the
    /// generation to read or follow. <c>x-should-retry: false</c> tells OpenAI's SDKs that honour it not to send the
    /// same request again, which would start a second reply.
    /// </summary>
    private static IResult StillRunning(HttpContext http, Guid generationId)
    {
        var location = $"{ConversationsApi.Prefix}/generations/{generationId:D}";
        http.Response.Headers.Location = location;
        http.Response.Headers["X-Generation-Id"] = generationId.ToString("D");
        http.Response.Headers["x-should-retry"] = "false";
        return Error(OpenAiMapper.ReplyTimeout,
            $"The reply is still being generated; it will be stored in the conversation. Read it from {location} or send stream=true.");
    }
}
