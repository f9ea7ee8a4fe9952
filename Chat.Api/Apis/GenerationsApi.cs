using Chat.Api.Contracts;
using Chat.Api.Infrastructure;
using Chat.Api.Services;
using Chat.Api.Sse;
using Chat.Data;
using Chat.Data.Entities;
using Chat.Llm.Generation;
using Chat.Llm.Routing;
using Chat.Messaging;
using Chat.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Chat.Api.Apis;

/// <summary>Generations (a reply being produced): status, SSE with resume, cancel; and the models a caller may use.</summary>
public static class GenerationsApi
{
    public static IEndpointRouteBuilder MapGenerationsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup($"{ConversationsApi.Prefix}/generations").WithTags("Generations")
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);

        api.MapGet("/{id:guid}", GetGeneration).RequireAuthorization(ChatScopes.Read)
            .WithName(nameof(GetGeneration)).WithSummary("A generation's status, model, provider and timings");
        api.MapGet("/{id:guid}/events", FollowGeneration).RequireAuthorization(ChatScopes.Read)
            .ProducesProblem(StatusCodes.Status410Gone)
            .WithName(nameof(FollowGeneration)).WithSummary("The generation's frames as SSE; Last-Event-ID (or ?after=) resumes after that seq");
        api.MapPost("/{id:guid}/cancel", CancelGeneration).RequireAuthorization(ChatScopes.Write)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithName(nameof(CancelGeneration)).WithSummary("Stop a generation, wherever it runs; the partial text is kept");

        app.MapGet($"{ConversationsApi.Prefix}/models", ListModels).RequireAuthorization(ChatScopes.Read)
            .WithTags("Models").WithName(nameof(ListModels)).WithSummary("The models and providers a caller may use");
        return app;
    }

    public static async Task<Results<Ok<GenerationResponse>, ProblemHttpResult>> GetGeneration(
        Guid id, ChatDbContext db, CancellationToken cancellationToken) =>
        await FindAsync(db, id, cancellationToken) is { } assistant
            ? TypedResults.Ok(GenerationResponse.From(assistant))
            : ApiProblems.GenerationNotFound();

    public static async Task<Results<ServerSentEventsResult<string>, ProblemHttpResult>> FollowGeneration(
        Guid id, long? after, HttpContext http, ChatDbContext db, GenerationStreamReader reader, ReplyResponder responder,
        CancellationToken cancellationToken)
    {
        if (await FindAsync(db, id, cancellationToken) is not { } assistant)
        {
            return ApiProblems.GenerationNotFound();
        }

        var from = after ?? EventStream.LastEventId(http.Request);
        if (assistant.Status != MessageStatus.Streaming && (await reader.ReadAfterAsync(id, from, count: 1)).Count == 0)
        {
            // Finished and its replay window has passed: the message itself is the record.
            return ApiProblems.Problem(StatusCodes.Status410Gone, ProblemCodes.GenerationFinished,
                "The generation's stream has expired.", $"Read the message from {ConversationsApi.Prefix}/conversations/{assistant.ConversationId}/messages/{assistant.Id}.");
        }

        return responder.Follow(http, assistant.ConversationId, id, from, live: null, cancellationToken);
    }

    public static async Task<Results<Accepted<GenerationResponse>, ProblemHttpResult>> CancelGeneration(
        Guid id, ChatDbContext db, GenerationCancellation cancellation, CancellationToken cancellationToken)
    {
        if (await FindAsync(db, id, cancellationToken) is not { } assistant)
        {
            return ApiProblems.GenerationNotFound();
        }
        if (assistant.Status != MessageStatus.Streaming)
        {
            return ApiProblems.Problem(StatusCodes.Status409Conflict, ProblemCodes.GenerationFinished,
                "The generation has already finished.", $"Its status is {assistant.Status.ToString().ToLowerInvariant()}.");
        }
        await cancellation.RequestCancelAsync(id);
        return TypedResults.Accepted($"{ConversationsApi.Prefix}/generations/{id:D}", GenerationResponse.From(assistant));
    }

    public static Ok<ModelsResponse> ListModels(ModelRouter router) => TypedResults.Ok(new ModelsResponse(router.ListModels()));

    /// <summary>The assistant message a generation writes, if the caller owns it (the owner filter applies).</summary>
    private static Task<Message?> FindAsync(ChatDbContext db, Guid generationId, CancellationToken cancellationToken) =>
        db.Messages.AsNoTracking().FirstOrDefaultAsync(m => m.GenerationId == generationId, cancellationToken);
}
