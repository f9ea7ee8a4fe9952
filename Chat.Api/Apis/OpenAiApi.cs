using System.Text.Json;
using Chat.Api.Contracts;
using Chat.Api.Extensions;
using Chat.Api.Infrastructure;
using Chat.Api.Services;
using Chat.Llm;
using Chat.Llm.OpenAi;
using Chat.Llm.Routing;
using Chat.ServiceDefaults.Authentication;
using Microsoft.Extensions.Options;

namespace Chat.Api.Apis;

/// <summary>
/// The OpenAI-compatible surface (<c>/v1/chat/completions</c>, <c>/v1/models</c>): any program that speaks the OpenAI
/// API can use Chat unchanged, with the same JWTs as the bearer key. Every call is persisted as a conversation;
/// send <c>X-Chat-Conversation-Id</c> to continue one (its stored history is then the context).
/// </summary>
public static class OpenAiApi
{
    public const string ConversationHeader = "X-Chat-Conversation-Id";

    public static IEndpointRouteBuilder MapOpenAiApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("OpenAI-compatible");
        api.MapPost("/chat/completions", CreateChatCompletion).RequireAuthorization(ChatScopes.Write)
            .Accepts<ChatCompletionRequest>("application/json")
            .WithName(nameof(CreateChatCompletion)).WithSummary("OpenAI chat completions (stream and non-stream)");
        api.MapGet("/models", ListOpenAiModels).RequireAuthorization(ChatScopes.Read)
            .WithName(nameof(ListOpenAiModels)).WithSummary("OpenAI model list");
        return app;
    }

    public static IResult ListOpenAiModels(ModelRouter router) =>
        Results.Text(JsonSerializer.Serialize(OpenAiMapper.ToModelList(router.ListModels(), Created()), OpenAiJsonContext.Default.ModelList),
            "application/json");

    public static async Task<IResult> CreateChatCompletion(
        HttpContext http, ConversationService conversations, ReplyService replies, ReplyResponder responder, IOptions<MessagesOptions> options, CancellationToken cancellationToken)
    {
        ChatCompletionRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync(http.Request.Body, OpenAiJsonContext.Default.ChatCompletionRequest, cancellationToken);
        }
        catch (JsonException)
        {
            return Error("invalid_request", "The request body is not valid JSON.");
        }
        if (request is null || request.Messages.Count == 0)
        {
            return Error("invalid_request", "messages must contain at least one message.", "messages");
        }

        IReadOnlyList<Chat.Llm.Context.HistoryMessage> turns;
        string? system;
        try
        {
            (system, turns) = OpenAiMapper.ToHistory(request);
        }
        catch (LlmException ex)
        {
            return Error(ex.Code, ex.Message, "messages");
        }
        if (turns.Count == 0 || turns[^1].Role != "user")
        {
            return Error("invalid_request", "The last message must have the role 'user'.", "messages");
        }
        var last = turns[^1].Content;
        if (MessagesApi.ValidateSend(last, "messages", null, request.Model, null, options.Value) is not null)
        {
            return Error("invalid_request", $"The last user message must be 1 to {options.Value.MaxContentBytes} bytes.", "messages");
        }

        Guid conversationId;
        NewConversation? created = null;
        if (http.Request.Headers.TryGetValue(ConversationHeader, out var header))
        {
            if (!Guid.TryParse(header, out conversationId))
            {
                return Error("invalid_request", $"{ConversationHeader} must be a conversation id.");
            }
        }
        else
        {
            // A first turn is stored with the conversation in one statement; earlier turns go in first, in one batch.
            created = new(conversations.New(new CreateConversationRequest(ConversationService.TitleFrom(last), request.Model, null, system)), turns.Count > 1);
            conversationId = created.Conversation.Id;
            if (created.HasHistory)
            {
                await replies.ImportTurnsAsync(created.Conversation, turns.Take(turns.Count - 1), cancellationToken);
            }
        }
        http.Response.Headers[ConversationHeader] = conversationId.ToString("D");

        var start = await replies.StartAsync(conversationId, last, null, new RouteChoice(request.Model, null), cancellationToken,
            request.EffectiveMaxTokens, request.Temperature, created: created, stream: request.Stream == true);
        using var live = start.Live;
        switch (start.Outcome)
        {
            case ReplyOutcome.NotFound:
                return Error("conversation_not_found", "The conversation was not found.", ConversationHeader, StatusCodes.Status404NotFound);
            case ReplyOutcome.Archived:
                return Error("conversation_archived", "The conversation is archived.", ConversationHeader, StatusCodes.Status409Conflict);
            case ReplyOutcome.RouteFailed:
                return Error(start.Error!.Code, start.Error.Message, "model");
            case ReplyOutcome.QueueFull:
                return Error("queue_full", "Too many generations in progress; retry shortly.");
            case ReplyOutcome.Existing:
                return Error("invalid_request", "This message was already sent.");
        }

        // Stored: from here the request waits for the model, whose own limits bound it.
        DatabaseUnavailable.LiftBound(http);
        var assistant = start.Assistant!;
        var createdAt = Created();
        if (request.Stream == true)
        {
            var frames = responder.Frames(conversationId, assistant.GenerationId!.Value, -1, live, cancellationToken);
            try
            {
                await SseStreaming.WriteChatCompletionChunksAsync(http.Response, frames, assistant.Model ?? request.Model ?? "", createdAt, request.IncludeUsage, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The client left; the reply is still generated and stored in the conversation.
            }
            return Results.Empty;
        }

        var outcome = await start.Completion!.WaitAsync(options.Value.SyncReplyTimeout, cancellationToken);
        if (outcome.Status != Chat.Llm.Generation.GenerationStatus.Completed)
        {
            return Error(outcome.ErrorCode ?? "cancelled", outcome.ErrorMessage ?? "The generation did not complete.");
        }
        return Results.Text(OpenAiMapper.Serialize(OpenAiMapper.ToResponse(outcome, createdAt)), "application/json");
    }

    private static long Created() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private static IResult Error(string code, string message, string? param = null, int? status = null)
    {
        var (mapped, body) = OpenAiMapper.ToError(code, message, param);
        return Results.Text(OpenAiMapper.Serialize(body), "application/json", statusCode: status ?? mapped);
    }
}
