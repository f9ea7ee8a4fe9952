using System.Text.Json;
using Chat.Llm;
using Chat.Llm.Context;
using Chat.Llm.Generation;
using Chat.Llm.Providers;
using Chat.Messaging.Contracts;

namespace Chat.Api.OpenAi;

/// <summary>Maps between the OpenAI chat-completions shapes and Chat's generations, frames and errors.</summary>
public static class OpenAiMapper
{
    public const string InvalidRequest = "invalid_request";
    public const string Cancelled = "cancelled";

    /// <summary>A non-stream request whose reply was still being generated when the wait ended (docs/API.md).</summary>
    public const string ReplyTimeout = "reply_timeout";

    /// <summary>The request's system/developer messages joined as the system prompt; the rest as history (fresh ids).</summary>
    public static (string? SystemPrompt, IReadOnlyList<HistoryMessage> History) ToHistory(ChatCompletionRequest request)
    {
        var system = new List<string>();
        var history = new List<HistoryMessage>();
        foreach (var m in request.Messages)
        {
            var role = m.Role.ToLowerInvariant();
            if (role is "system" or "developer")
            {
                system.Add(m.Content ?? "");
            }
            else if (role is "user" or "assistant")
            {
                history.Add(new HistoryMessage(Guid.CreateVersion7(), role, m.Content ?? ""));
            }
            else
            {
                throw new LlmException(InvalidRequest, $"Unsupported message role '{m.Role}'.");
            }
        }

        return (system.Count == 0 ? null : string.Join("\n\n", system), history);
    }

    public static string CompletionId(Guid generationId) => $"chatcmpl-{generationId:N}";

    public static ChatCompletionResponse ToResponse(GenerationOutcome outcome, long created) => new()
    {
        Id = CompletionId(outcome.GenerationId),
        Created = created,
        Model = outcome.Model,
        Choices = [new ChatCompletionChoice
        {
            Index = 0,
            Message = new ChatCompletionMessage { Role = "assistant", Content = outcome.Text },
            FinishReason = outcome.FinishReason ?? "stop",
        }],
        Usage = ToUsage(outcome.Usage),
    };

    /// <summary>
    /// The chunks one frame becomes: <c>generation.started</c> → a role chunk; <c>chunk</c> → a content delta;
    /// <c>generation.completed</c> → a finish_reason chunk, plus a usage chunk (empty choices) when
    /// <paramref name="includeUsage"/>. Failed and cancelled frames yield nothing (write an error and stop).
    /// </summary>
    public static IEnumerable<ChatCompletionChunk> ToChunks(GenerationFrame frame, string model, long created, bool includeUsage)
    {
        var id = CompletionId(frame.GenerationId);
        ChatCompletionChunk Chunk(ChatCompletionDelta delta, string? finish) => new()
        {
            Id = id,
            Created = created,
            Model = frame.Model ?? model,
            Choices = [new ChatCompletionChunkChoice { Index = 0, Delta = delta, FinishReason = finish }],
        };

        switch (frame.Type)
        {
            case FrameTypes.Started:
                yield return Chunk(new ChatCompletionDelta { Role = "assistant", Content = "" }, null);
                break;
            case FrameTypes.Chunk:
                yield return Chunk(new ChatCompletionDelta { Content = frame.Delta }, null);
                break;
            case FrameTypes.Completed:
                yield return Chunk(new ChatCompletionDelta(), frame.FinishReason ?? "stop");
                if (includeUsage)
                {
                    yield return new ChatCompletionChunk { Id = id, Created = created, Model = frame.Model ?? model, Choices = [], Usage = ToUsage(frame.Usage) ?? new CompletionUsage() };
                }

                break;
            default:
                break;
        }
    }

    public static CompletionUsage? ToUsage(FrameUsage? usage) => usage is null ? null : new CompletionUsage
    {
        PromptTokens = usage.PromptTokens ?? 0,
        CompletionTokens = usage.CompletionTokens ?? 0,
        TotalTokens = usage.TotalTokens ?? ((usage.PromptTokens ?? 0) + (usage.CompletionTokens ?? 0)),
    };

    public static ModelList ToModelList(IEnumerable<ModelListing> models, long created) => new()
    {
        Data = models.Select(m => new ModelObject { Id = m.Model, Created = created, OwnedBy = m.Provider }).ToList(),
    };

    /// <summary>An OpenAI-shaped error for one of Chat's codes, with the HTTP status to send it with.</summary>
    public static (int Status, OpenAiErrorResponse Body) ToError(string code, string message, string? param = null)
    {
        var (status, type) = code switch
        {
            LlmErrorCodes.ModelNotFound or LlmErrorCodes.ProviderNotFound => (StatusCodes.Status404NotFound, "invalid_request_error"),
            LlmErrorCodes.ContextTooLarge or InvalidRequest => (StatusCodes.Status400BadRequest, "invalid_request_error"),
            LlmErrorCodes.RateLimited => (StatusCodes.Status429TooManyRequests, "rate_limit_error"),
            "unauthorized" => (StatusCodes.Status401Unauthorized, "authentication_error"),
            "queue_full" => (StatusCodes.Status503ServiceUnavailable, "server_error"),
            LlmErrorCodes.TotalTimeout or LlmErrorCodes.FirstTokenTimeout or LlmErrorCodes.IdleTimeout or ReplyTimeout
                => (StatusCodes.Status504GatewayTimeout, "server_error"),
            Cancelled => (StatusCodes.Status499ClientClosedRequest, "request_cancelled"),
            _ => (StatusCodes.Status502BadGateway, "server_error"),
        };
        return (status, new OpenAiErrorResponse { Error = new OpenAiError { Message = message, Type = type, Code = code, Param = param } });
    }

    public static string Serialize(ChatCompletionResponse response) => JsonSerializer.Serialize(response, OpenAiJsonContext.Default.ChatCompletionResponse);

    public static string Serialize(OpenAiErrorResponse error) => JsonSerializer.Serialize(error, OpenAiJsonContext.Default.OpenAiErrorResponse);
}
