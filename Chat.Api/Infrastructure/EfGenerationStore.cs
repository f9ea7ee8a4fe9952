using Chat.Data;
using Chat.Data.Entities;
using Chat.Llm.Generation;
using Microsoft.EntityFrameworkCore;

namespace Chat.Api.Infrastructure;

/// <summary>
/// Persists what a generation produced onto its assistant message (created, in status <c>streaming</c>, by the
/// endpoint that started it). A singleton: the worker outlives requests, so each write leases a pooled context as
/// the system scope — it addresses one row by its primary key, which the request that created it was allowed to write.
/// </summary>
internal sealed class EfGenerationStore(IDbContextFactory<ChatDbContext> contexts) : IGenerationStore
{
    public Task MarkStreamingAsync(GenerationJob job, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task CompleteAsync(GenerationOutcome outcome, CancellationToken cancellationToken) =>
        FinishAsync(outcome, MessageStatus.Completed, cancellationToken);

    public Task FailAsync(GenerationOutcome outcome, CancellationToken cancellationToken) =>
        FinishAsync(outcome, MessageStatus.Failed, cancellationToken);

    public Task CancelAsync(GenerationOutcome outcome, CancellationToken cancellationToken) =>
        FinishAsync(outcome, MessageStatus.Cancelled, cancellationToken);

    private async Task FinishAsync(GenerationOutcome outcome, MessageStatus status, CancellationToken cancellationToken)
    {
        await using var db = contexts.CreateDbContext(DataScope.System);
        await db.Messages
            .Where(m => m.Id == outcome.AssistantMessageId)
            .ExecuteUpdateAsync(set => set
                .SetProperty(m => m.Content, outcome.Text)
                .SetProperty(m => m.Status, status)
                .SetProperty(m => m.FinishReason, outcome.FinishReason)
                .SetProperty(m => m.PromptTokens, outcome.Usage == null ? null : outcome.Usage.PromptTokens)
                .SetProperty(m => m.CompletionTokens, outcome.Usage == null ? null : outcome.Usage.CompletionTokens)
                .SetProperty(m => m.TotalTokens, outcome.Usage == null ? null : outcome.Usage.TotalTokens)
                .SetProperty(m => m.Model, outcome.Model)
                .SetProperty(m => m.Provider, outcome.Provider)
                .SetProperty(m => m.TimeToFirstTokenMs, outcome.TimeToFirstTokenMs)
                .SetProperty(m => m.DurationMs, outcome.DurationMs)
                .SetProperty(m => m.ErrorCode, outcome.ErrorCode), cancellationToken);
    }
}
