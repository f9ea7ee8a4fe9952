using System.Text;
using Chat.Api.Contracts;
using Chat.Api.Extensions;
using Chat.Api.Infrastructure;
using Chat.Api.Services;
using Chat.Data;
using Chat.Llm.Routing;
using Chat.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Chat.Api.Apis;

public static class MessagesApi
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 100;

    public static IEndpointRouteBuilder MapMessagesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup($"{ConversationsApi.Prefix}/conversations/{{id:guid}}/messages").WithTags("Messages")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);

        api.MapGet("/", ListMessages).RequireAuthorization(ChatScopes.Read)
            .WithName(nameof(ListMessages)).WithSummary("Page through a conversation's messages in order (keyset: before/after, or latest=true for the newest page)");
        api.MapGet("/{messageId:guid}", GetMessage).RequireAuthorization(ChatScopes.Read)
            .WithName(nameof(GetMessage)).WithSummary("Get one message");
        api.MapPost("/", PostMessage).RequireAuthorization(ChatScopes.Write)
            .ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .WithName(nameof(PostMessage)).WithSummary("Post the user's message (idempotent by clientMessageId)");

        return app;
    }

    public static async Task<Results<Ok<MessagePage>, ProblemHttpResult>> ListMessages(
        Guid id, [AsParameters] ListMessagesQuery query, ConversationService conversations, MessageService messages,
        CancellationToken cancellationToken)
    {
        var limit = query.Limit ?? DefaultLimit;
        var errors = new Dictionary<string, string[]>();
        if (limit is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"limit must be between 1 and {MaxLimit}."];
        }
        var latest = query.Latest == true;
        if ((query.Before is not null ? 1 : 0) + (query.After is not null ? 1 : 0) + (latest ? 1 : 0) > 1)
        {
            errors["before"] = ["Give at most one of before, after and latest=true."];
        }
        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        KeysetCursor? before = null, after = null;
        if (query.Before is not null && !KeysetCursor.TryDecode(query.Before, KeysetCursor.MessageKind, out before))
        {
            return ApiProblems.InvalidCursor("before");
        }
        if (query.After is not null && !KeysetCursor.TryDecode(query.After, KeysetCursor.MessageKind, out after))
        {
            return ApiProblems.InvalidCursor("after");
        }

        // The newest page is the page before the end of the conversation. One statement in the common case: the page
        // query checks the conversation too, so only an empty page asks whether the conversation exists at all.
        var (items, next) = await messages.ListAsync(id, limit, latest ? KeysetCursor.End : before, after, cancellationToken);
        if (items.Count == 0 && await conversations.GetAsync(id, cancellationToken) is null)
        {
            return ApiProblems.ConversationNotFound();
        }
        return TypedResults.Ok(new MessagePage(items, next?.Encode(KeysetCursor.MessageKind)));
    }

    public static async Task<Results<Ok<MessageResponse>, ProblemHttpResult>> GetMessage(
        Guid id, Guid messageId, ConversationService conversations, MessageService messages, CancellationToken cancellationToken)
    {
        if (await conversations.GetAsync(id, cancellationToken) is null)
        {
            return ApiProblems.ConversationNotFound();
        }
        var message = await messages.GetAsync(id, messageId, cancellationToken);
        return message is null ? ApiProblems.MessageNotFound() : TypedResults.Ok(MessageResponse.From(message));
    }

    /// <summary>
    /// Stores the user's message and produces the assistant's reply. Three ways to receive it:
    /// JSON (default): waits and answers 201 with both messages; <c>Accept: text/event-stream</c>: the reply's frames
    /// as SSE (<c>id:</c> = seq); <c>Prefer: respond-async</c>: 202 at once with the generation to follow (WebSocket or
    /// <c>GET /api/v1/generations/{id}/events</c>). A retry with the same <c>clientMessageId</c> answers 200 with the
    /// first result and starts nothing.
    /// </summary>
    public static async Task<Results<Created<PostMessageResponse>, Ok<PostMessageResponse>, Accepted<PostMessageResponse>, ServerSentEventsResult<string>, ProblemHttpResult>> PostMessage(
        Guid id, [FromBody] PostMessageRequest request, ReplyService replies, ReplyResponder responder, IOptions<MessagesOptions> options,
        HttpContext http, CancellationToken cancellationToken)
    {
        if (ValidateSend(request.Content, "content", request.ClientMessageId, request.Model, request.Provider, options.Value) is { } invalid)
        {
            return invalid;
        }

        var start = await replies.StartAsync(new ReplyRequest(id, request.Content!)
        {
            ClientMessageId = request.ClientMessageId,
            Route = new RouteChoice(request.Model, request.Provider),
            Reply = request.Reply ?? true,
            Stream = ReplyResponder.DeliveryOf(http.Request) == ReplyResult.Delivery.Stream,
        }, cancellationToken);
        return await responder.RespondAsync(http, start, $"{ConversationsApi.Prefix}/conversations/{id}/messages", cancellationToken);
    }

    /// <summary>The checks every way of sending a message shares (this endpoint and <c>POST /api/v1/chat</c>).</summary>
    internal static ProblemHttpResult? ValidateSend(
        string? content, string contentField, string? clientMessageId, string? model, string? provider, MessagesOptions options)
    {
        if (string.IsNullOrWhiteSpace(content))
        {
            return ApiProblems.Validation(contentField, $"{contentField} is required.");
        }
        if (content.Contains('\0', StringComparison.Ordinal))
        {
            // PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
            return ApiProblems.Validation(contentField, $"{contentField} must not contain NUL characters.");
        }
        if (clientMessageId is { } clientId && (clientId.Length is 0 or > Limits.IdentifierLength || clientId.Contains('\0', StringComparison.Ordinal)))
        {
            return ApiProblems.Validation("clientMessageId", $"clientMessageId must be 1 to {Limits.IdentifierLength} characters.");
        }
        if (model is { Length: 0 or > Limits.ModelLength } || provider is { Length: 0 or > Limits.ModelLength })
        {
            return ApiProblems.Validation(model is { Length: 0 or > Limits.ModelLength } ? "model" : "provider",
                $"model and provider must be 1 to {Limits.ModelLength} characters.");
        }
        var maxBytes = options.MaxContentBytes;
        if (content.Length > maxBytes || Encoding.UTF8.GetByteCount(content) > maxBytes)
        {
            return ApiProblems.ContentTooLarge(maxBytes);
        }
        return null;
    }
}
