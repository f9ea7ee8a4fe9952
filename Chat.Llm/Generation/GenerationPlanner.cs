using Chat.Llm.Context;
using Chat.Llm.Providers;
using Chat.Llm.Routing;

namespace Chat.Llm.Generation;

/// <summary>A generation ready to persist and enqueue: the job, and what to record on the assistant message.</summary>
public sealed record PreparedGeneration(GenerationJob Job, BuiltContext Context)
{
    /// <summary>The primary route's model (record it on the assistant message while streaming).</summary>
    public ModelDescriptor Model => Job.Route.Primary;
}

/// <summary>
/// Routing + context in one call, so an endpoint does: <c>Prepare</c> → insert the assistant message (status
/// <c>streaming</c>, <see cref="GenerationJob.AssistantMessageId"/>, <see cref="GenerationJob.GenerationId"/>,
/// <see cref="BuiltContext.IncludedMessageIds"/>, <see cref="BuiltContext.PromptTokens"/>) → <see cref="GenerationQueue.TryEnqueue"/>.
/// Throws <see cref="LlmException"/> (<c>model_not_found</c>, <c>provider_not_found</c>, <c>context_length_exceeded</c>).
/// </summary>
public sealed class GenerationPlanner(ModelRouter router)
{
    public PreparedGeneration Prepare(
        Guid conversationId,
        RouteChoice? request,
        RouteChoice? conversation,
        string? systemPrompt,
        IReadOnlyList<HistoryMessage> history,
        int? maxOutputTokens = null,
        float? temperature = null)
    {
        var plan = router.Resolve(request, conversation);
        var reserved = maxOutputTokens is { } m ? Math.Min(m, plan.Primary.MaxOutputTokens) : (int?)null;
        var context = ContextBuilder.Build(systemPrompt, history, plan.Primary, reserved);
        var job = new GenerationJob
        {
            ConversationId = conversationId,
            GenerationId = Guid.CreateVersion7(),
            AssistantMessageId = Guid.CreateVersion7(),
            Route = plan,
            Messages = context.Messages,
            MaxOutputTokens = reserved,
            Temperature = temperature,
        };
        return new PreparedGeneration(job, context);
    }
}
