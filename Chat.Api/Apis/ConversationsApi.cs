using System.Globalization;
using Chat.Api.Contracts;
using Chat.Api.Infrastructure;
using Chat.Api.Services;
using Chat.Data;
using Chat.Data.Entities;
using Chat.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Chat.Api.Apis;

public static class ConversationsApi
{
    public const int DefaultLimit = 20;
    public const int MaxLimit = 100;
    public const string Prefix = "/api/v1";

    public static IEndpointRouteBuilder MapConversationsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup($"{Prefix}/conversations").WithTags("Conversations")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);

        api.MapPost("/", CreateConversation).RequireAuthorization(ChatScopes.Write)
            .WithName(nameof(CreateConversation)).WithSummary("Create a conversation");
        api.MapGet("/", ListConversations).RequireAuthorization(ChatScopes.Read)
            .WithName(nameof(ListConversations)).WithSummary("List conversations by most recent activity (keyset pages)");
        api.MapGet("/{id:guid}", GetConversation).RequireAuthorization(ChatScopes.Read)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithName(nameof(GetConversation)).WithSummary("Get a conversation; the ETag is its version");
        api.MapPatch("/{id:guid}", UpdateConversation).RequireAuthorization(ChatScopes.Write)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .WithName(nameof(UpdateConversation)).WithSummary("Update title, system prompt, model or provider (If-Match for optimistic concurrency)");
        api.MapPost("/{id:guid}/archive", ArchiveConversation).RequireAuthorization(ChatScopes.Write)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithName(nameof(ArchiveConversation)).WithSummary("Archive a conversation");
        api.MapPost("/{id:guid}/unarchive", UnarchiveConversation).RequireAuthorization(ChatScopes.Write)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithName(nameof(UnarchiveConversation)).WithSummary("Unarchive a conversation");
        api.MapDelete("/{id:guid}", DeleteConversation).RequireAuthorization(ChatScopes.Write)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithName(nameof(DeleteConversation)).WithSummary("Soft-delete a conversation (restorable within the retention period)");
        api.MapPost("/{id:guid}/restore", RestoreConversation).RequireAuthorization(ChatScopes.Write)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithName(nameof(RestoreConversation)).WithSummary("Restore a soft-deleted conversation within the retention period");

        return app;
    }

    public static async Task<Results<Created<ConversationResponse>, ProblemHttpResult>> CreateConversation(
        [FromBody] CreateConversationRequest? request, ConversationService conversations, HttpResponse response, CancellationToken cancellationToken)
    {
        request ??= new CreateConversationRequest(null, null, null, null);
        if (Validate(request.Title, request.Model, request.Provider, request.SystemPrompt) is { } errors)
        {
            return ApiProblems.Validation(errors);
        }
        var conversation = await conversations.CreateAsync(request, cancellationToken);
        SetETag(response, conversation);
        return TypedResults.Created($"{Prefix}/conversations/{conversation.Id}", ConversationResponse.From(conversation));
    }

    public static async Task<Results<Ok<ConversationPage>, ProblemHttpResult>> ListConversations(
        [AsParameters] ListConversationsQuery query, ConversationService conversations, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var limit = query.Limit ?? DefaultLimit;
        if (limit is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"limit must be between 1 and {MaxLimit}."];
        }
        var status = ConversationStatus.Active;
        if (query.Status is not null && !TryParseStatus(query.Status, out status))
        {
            errors["status"] = ["status must be 'active' or 'archived'."];
        }
        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        KeysetCursor? cursor = null;
        if (query.Cursor is not null && !KeysetCursor.TryDecode(query.Cursor, KeysetCursor.ConversationKind, out cursor))
        {
            return ApiProblems.InvalidCursor("cursor");
        }

        var (items, next) = await conversations.ListAsync(status, limit, cursor, cancellationToken);
        return TypedResults.Ok(new ConversationPage(
            items.Select(ConversationResponse.From).ToList(), next?.Encode(KeysetCursor.ConversationKind)));
    }

    public static async Task<Results<Ok<ConversationResponse>, ProblemHttpResult>> GetConversation(
        Guid id, ConversationService conversations, HttpResponse response, CancellationToken cancellationToken) =>
        Found(response, await conversations.GetAsync(id, cancellationToken));

    public static async Task<Results<Ok<ConversationResponse>, ProblemHttpResult>> UpdateConversation(
        Guid id,
        [FromBody] UpdateConversationRequest request,
        [FromHeader(Name = "If-Match")] string? ifMatch,
        ConversationService conversations,
        HttpResponse response,
        CancellationToken cancellationToken)
    {
        if (Validate(request.Title, request.Model, request.Provider, request.SystemPrompt) is { } errors)
        {
            return ApiProblems.Validation(errors);
        }

        uint? expected = null;
        if (!string.IsNullOrWhiteSpace(ifMatch) && ifMatch.Trim() != "*")
        {
            if (!TryParseETag(ifMatch, out var version))
            {
                // Nothing matches an ETag we never issued, except that the conversation may not exist at all.
                return await conversations.GetAsync(id, cancellationToken) is null
                    ? ApiProblems.ConversationNotFound()
                    : ApiProblems.PreconditionFailed();
            }
            expected = version;
        }

        var (outcome, conversation) = await conversations.UpdateAsync(id, request, expected, cancellationToken);
        switch (outcome)
        {
            case UpdateOutcome.NotFound:
                return ApiProblems.ConversationNotFound();
            case UpdateOutcome.PreconditionFailed:
                return ApiProblems.PreconditionFailed();
            default:
                return Found(response, conversation);
        }
    }

    public static Task<Results<Ok<ConversationResponse>, ProblemHttpResult>> ArchiveConversation(
        Guid id, ConversationService conversations, HttpResponse response, CancellationToken cancellationToken) =>
        SetStatus(id, ConversationStatus.Archived, conversations, response, cancellationToken);

    public static Task<Results<Ok<ConversationResponse>, ProblemHttpResult>> UnarchiveConversation(
        Guid id, ConversationService conversations, HttpResponse response, CancellationToken cancellationToken) =>
        SetStatus(id, ConversationStatus.Active, conversations, response, cancellationToken);

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteConversation(
        Guid id, ConversationService conversations, CancellationToken cancellationToken) =>
        await conversations.DeleteAsync(id, cancellationToken) ? TypedResults.NoContent() : ApiProblems.ConversationNotFound();

    public static async Task<Results<Ok<ConversationResponse>, ProblemHttpResult>> RestoreConversation(
        Guid id, ConversationService conversations, HttpResponse response, CancellationToken cancellationToken) =>
        Found(response, await conversations.RestoreAsync(id, cancellationToken));

    private static async Task<Results<Ok<ConversationResponse>, ProblemHttpResult>> SetStatus(
        Guid id, ConversationStatus status, ConversationService conversations, HttpResponse response, CancellationToken cancellationToken) =>
        Found(response, await conversations.SetStatusAsync(id, status, cancellationToken));

    /// <summary>The conversation with its ETag, or 404 when the caller has none by that id.</summary>
    private static Results<Ok<ConversationResponse>, ProblemHttpResult> Found(HttpResponse response, Conversation? conversation)
    {
        if (conversation is null)
        {
            return ApiProblems.ConversationNotFound();
        }
        SetETag(response, conversation);
        return TypedResults.Ok(ConversationResponse.From(conversation));
    }

    private static Dictionary<string, string[]>? Validate(string? title, string? model, string? provider, string? systemPrompt)
    {
        var errors = new Dictionary<string, string[]>();
        if (title is { Length: > Limits.TitleLength })
        {
            errors["title"] = [$"title may be at most {Limits.TitleLength} characters."];
        }
        if (model is { Length: > Limits.ModelLength })
        {
            errors["model"] = [$"model may be at most {Limits.ModelLength} characters."];
        }
        if (provider is { Length: > Limits.ModelLength })
        {
            errors["provider"] = [$"provider may be at most {Limits.ModelLength} characters."];
        }
        if (systemPrompt is { Length: > Limits.SystemPromptLength })
        {
            errors["systemPrompt"] = [$"systemPrompt may be at most {Limits.SystemPromptLength} characters."];
        }
        foreach (var (field, value) in new[] { ("title", title), ("model", model), ("provider", provider), ("systemPrompt", systemPrompt) })
        {
            if (value is not null && value.Contains('\0', StringComparison.Ordinal))
            {
                // PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
                errors.TryAdd(field, [$"{field} must not contain NUL characters."]);
            }
        }
        return errors.Count > 0 ? errors : null;
    }

    private static bool TryParseStatus(string text, out ConversationStatus status)
    {
        switch (text)
        {
            case "active":
                status = ConversationStatus.Active;
                return true;
            case "archived":
                status = ConversationStatus.Archived;
                return true;
            default:
                status = default;
                return false;
        }
    }

    private static void SetETag(HttpResponse response, Conversation conversation) =>
        response.Headers.ETag = $"\"{conversation.Version.ToString(CultureInfo.InvariantCulture)}\"";

    private static bool TryParseETag(string header, out uint version)
    {
        var value = header.Trim();
        if (value.StartsWith("W/", StringComparison.Ordinal))
        {
            value = value[2..];
        }
        version = 0;
        return value.Length > 2 && value[0] == '"' && value[^1] == '"'
            && uint.TryParse(value.AsSpan(1, value.Length - 2), NumberStyles.None, CultureInfo.InvariantCulture, out version);
    }
}
