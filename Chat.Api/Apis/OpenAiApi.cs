using System.Text.Json;
using Chat.Api.Contracts;
using Chat.Api.Extensions;
using Chat.Api.OpenAi;
using Chat.Api.Services;
using Chat.Llm;
using Chat.Llm.Context;
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
        Results.Text(JsonSerializer.Serialize(OpenAiMapper.ToModelList(router.ListModels(), DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
            OpenAiJsonContext.Default.ModelList), "application/json");

    public static async Task<IResult> CreateChatCompletion(
        HttpContext http, ConversationService conversations, ReplyService replies, OpenAiResponder responder, IOptions<MessagesOptions> options,
        CancellationToken cancellationToken)
    {
        var (request, system, turns, invalid) = await ReadAsync(http.Request, options.Value, cancellationToken);
        if (invalid is not null)
        {
            return invalid;
        }

        Guid conversationId;
        NewConversation? created = null;
        if (http.Request.Headers.TryGetValue(ConversationHeader, out var header))
        {
            if (!Guid.TryParse(header, out conversationId))
            {
                return OpenAiResponder.Error(OpenAiMapper.InvalidRequest, $"{ConversationHeader} must be a conversation id.");
            }
        }
        else
        {
            created = await NewConversationAsync(conversations, replies, request!, system, turns, cancellationToken);
            conversationId = created.Conversation.Id;
        }
        http.Response.Headers[ConversationHeader] = conversationId.ToString("D");

        var start = await replies.StartAsync(new ReplyRequest(conversationId, turns[^1].Content)
        {
            Route = new RouteChoice(request!.Model, null),
            MaxOutputTokens = request.EffectiveMaxTokens,
            Temperature = request.Temperature,
            Created = created,
            Stream = request.Stream == true,
        }, cancellationToken);
        return await responder.RespondAsync(http, start, request, cancellationToken);
    }

    /// <summary>The request, its system prompt and turns (the last one the user's), or the OpenAI error that refuses it.</summary>
    private static async Task<(ChatCompletionRequest? Request, string? System, IReadOnlyList<HistoryMessage> Turns, IResult? Invalid)> ReadAsync(
        HttpRequest http, MessagesOptions options, CancellationToken cancellationToken)
    {
        static (ChatCompletionRequest?, string?, IReadOnlyList<HistoryMessage>, IResult?) Refuse(string code, string message, string? param = "messages") =>
            (null, null, [], OpenAiResponder.Error(code, message, param));

        ChatCompletionRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync(http.Body, OpenAiJsonContext.Default.ChatCompletionRequest, cancellationToken);
        }
        catch (JsonException)
        {
            return Refuse(OpenAiMapper.InvalidRequest, "The request body is not valid JSON.", null);
        }
        if (request is null || request.Messages.Count == 0)
        {
            return Refuse(OpenAiMapper.InvalidRequest, "messages must contain at least one message.");
        }

        try
        {
            var (system, turns) = OpenAiMapper.ToHistory(request);
            if (turns.Count == 0 || turns[^1].Role != "user")
            {
                return Refuse(OpenAiMapper.InvalidRequest, "The last message must have the role 'user'.");
            }
            if (MessagesApi.ValidateSend(turns[^1].Content, "messages", null, request.Model, null, options) is not null)
            {
                return Refuse(OpenAiMapper.InvalidRequest, $"The last user message must be 1 to {options.MaxContentBytes} bytes.");
            }
            return (request, system, turns, null);
        }
        catch (LlmException ex)
        {
            return Refuse(ex.Code, ex.Message);
        }
    }

    /// <summary>
    /// The conversation this call starts. A first turn is stored with the conversation in one statement (by the reply);
    /// earlier turns go in first, in one batch, with the conversation.
    /// </summary>
    private static async Task<NewConversation> NewConversationAsync(ConversationService conversations, ReplyService replies,
        ChatCompletionRequest request, string? system, IReadOnlyList<HistoryMessage> turns, CancellationToken cancellationToken)
    {
        var conversation = conversations.New(new CreateConversationRequest(ConversationService.TitleFrom(turns[^1].Content), request.Model, null, system));
        var created = new NewConversation(conversation, HasHistory: turns.Count > 1);
        if (created.HasHistory)
        {
            await replies.ImportTurnsAsync(conversation, turns.Take(turns.Count - 1), cancellationToken);
        }
        return created;
    }
}
