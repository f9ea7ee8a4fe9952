using System.Text;
using Chat.Api.Contracts;
using Chat.Api.Extensions;
using Chat.Api.Infrastructure;
using Chat.Api.Services;
using Chat.Data;
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
            .WithName(nameof(ListMessages)).WithSummary("Page through a conversation's messages in order (keyset: before/after)");
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
        if (query.Before is not null && query.After is not null)
        {
            errors["before"] = ["Give before or after, not both."];
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

        if (await conversations.GetAsync(id, cancellationToken) is null)
        {
            return ApiProblems.ConversationNotFound();
        }
        var (items, next) = await messages.ListAsync(id, limit, before, after, cancellationToken);
        return TypedResults.Ok(new MessagePage(items.Select(MessageResponse.From).ToList(), next?.Encode(KeysetCursor.MessageKind)));
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
    /// 201 with the stored message for the request that created it; 200 with the same body for a retry with the same
    /// <c>clientMessageId</c>. The response's <c>generation</c> part is reserved for the assistant's reply.
    /// </summary>
    public static async Task<Results<Created<PostMessageResponse>, Ok<PostMessageResponse>, ProblemHttpResult>> PostMessage(
        Guid id, [FromBody] PostMessageRequest request, MessageService messages, IOptions<MessagesOptions> options,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Content))
        {
            return ApiProblems.Validation("content", "content is required.");
        }
        if (request.Content.Contains('\0', StringComparison.Ordinal))
        {
            // PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
            return ApiProblems.Validation("content", "content must not contain NUL characters.");
        }
        if (request.ClientMessageId is { } clientId && (clientId.Length is 0 or > Limits.IdentifierLength || clientId.Contains('\0', StringComparison.Ordinal)))
        {
            return ApiProblems.Validation("clientMessageId", $"clientMessageId must be 1 to {Limits.IdentifierLength} characters.");
        }
        var maxBytes = options.Value.MaxContentBytes;
        if (request.Content.Length > maxBytes || Encoding.UTF8.GetByteCount(request.Content) > maxBytes)
        {
            return ApiProblems.ContentTooLarge(maxBytes);
        }

        var result = await messages.AppendUserMessageAsync(id, request.Content, request.ClientMessageId, cancellationToken);
        return result.Outcome switch
        {
            AppendOutcome.NotFound => ApiProblems.ConversationNotFound(),
            AppendOutcome.Archived => ApiProblems.ConversationArchived(),
            AppendOutcome.Existing => TypedResults.Ok(new PostMessageResponse(MessageResponse.From(result.Message!))),
            _ => TypedResults.Created(
                $"{ConversationsApi.Prefix}/conversations/{id}/messages/{result.Message!.Id}",
                new PostMessageResponse(MessageResponse.From(result.Message))),
        };
    }
}
