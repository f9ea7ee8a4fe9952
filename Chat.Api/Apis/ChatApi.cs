using Chat.Api.Contracts;
using Chat.Api.Extensions;
using Chat.Api.Services;
using Chat.Llm.Routing;
using Chat.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Chat.Api.Apis;

/// <summary><c>POST /api/v1/chat</c>: the one-call chat — creates the conversation when none is given.</summary>
public static class ChatApi
{
    public static IEndpointRouteBuilder MapChatApi(this IEndpointRouteBuilder app)
    {
        app.MapPost($"{ConversationsApi.Prefix}/chat", Chat).RequireAuthorization(ChatScopes.Write)
            .WithTags("Messages")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .WithName(nameof(Chat)).WithSummary("Send a message and get the reply, creating the conversation when conversationId is absent");
        return app;
    }

    public static async Task<Results<Created<PostMessageResponse>, Ok<PostMessageResponse>, Accepted<PostMessageResponse>, ServerSentEventsResult<string>, ProblemHttpResult>> Chat(
        [FromBody] ChatRequest request, ConversationService conversations, ReplyService replies, ReplyResponder responder,
        IOptions<MessagesOptions> options, HttpContext http, CancellationToken cancellationToken)
    {
        if (MessagesApi.ValidateSend(request.Message, "message", request.ClientMessageId, request.Model, request.Provider, options.Value) is { } invalid)
        {
            return invalid;
        }

        var conversationId = request.ConversationId;
        NewConversation? created = null;
        if (conversationId is null)
        {
            var title = ConversationService.TitleFrom(request.Message!);
            created = new(conversations.New(new CreateConversationRequest(title, request.Model, request.Provider, null)), HasHistory: false);
            conversationId = created.Conversation.Id;
        }

        var start = await replies.StartAsync(new ReplyRequest(conversationId.Value, request.Message!)
        {
            ClientMessageId = request.ClientMessageId,
            Route = new RouteChoice(request.Model, request.Provider),
            Created = created,
            Stream = ReplyResponder.DeliveryOf(http.Request) == ReplyResult.Delivery.Stream,
        }, cancellationToken);
        return await responder.RespondAsync(http, start, $"{ConversationsApi.Prefix}/conversations/{conversationId}/messages", cancellationToken);
    }
}

/// <summary>The seed's one-call chat.</summary>
public sealed record ChatRequest(string? Message, Guid? ConversationId, string? Model, string? Provider, string? ClientMessageId);
