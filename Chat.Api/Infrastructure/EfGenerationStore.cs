using Chat.Data;
using Chat.Data.Entities;
using Chat.Llm.Generation;
using Chat.Llm.Options;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using NpgsqlTypes;

namespace Chat.Api.Infrastructure;

/// <summary>
/// Persists what a generation produced onto its assistant message (created, in status <c>streaming</c> and leased to
/// this process, by the endpoint that started it), and keeps the leases. A singleton: the worker outlives requests, so
/// each call leases a pooled context as the system scope — it addresses rows by primary key or by lease, never by a
/// caller's data. Writes are conditional on the lease: a row another process has swept is never overwritten.
/// </summary>
internal sealed class EfGenerationStore(IDbContextFactory<ChatDbContext> contexts, GenerationOwner owner, IOptions<LlmOptions> options)
    : IGenerationStore
{
    private readonly TimeSpan _lease = options.Value.Generation.LeaseDuration;

    public Task MarkStreamingAsync(GenerationJob job, CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<bool> FinishAsync(GenerationOutcome outcome, CancellationToken cancellationToken)
    {
        var status = outcome.Status switch
        {
            GenerationStatus.Completed => MessageStatus.Completed,
            GenerationStatus.Failed => MessageStatus.Failed,
            GenerationStatus.Cancelled => MessageStatus.Cancelled,
            _ => MessageStatus.Interrupted,
        };
        // A swept generation keeps the timings it never reported (its runner is gone).
        var timed = status != MessageStatus.Interrupted;
        await using var db = contexts.CreateDbContext(DataScope.System);
        var updated = await db.Messages
            .Where(m => m.Id == outcome.AssistantMessageId && m.Status == MessageStatus.Streaming && m.LeaseOwner == owner.Id)
            .ExecuteUpdateAsync(set => set
                .SetProperty(m => m.Content, outcome.Text)
                .SetProperty(m => m.Status, status)
                .SetProperty(m => m.FinishReason, outcome.FinishReason)
                .SetProperty(m => m.PromptTokens, outcome.Usage == null ? null : outcome.Usage.PromptTokens)
                .SetProperty(m => m.CompletionTokens, outcome.Usage == null ? null : outcome.Usage.CompletionTokens)
                .SetProperty(m => m.TotalTokens, outcome.Usage == null ? null : outcome.Usage.TotalTokens)
                .SetProperty(m => m.Model, outcome.Model)
                .SetProperty(m => m.Provider, outcome.Provider)
                .SetProperty(m => m.TimeToFirstTokenMs, m => timed ? outcome.TimeToFirstTokenMs : m.TimeToFirstTokenMs)
                .SetProperty(m => m.DurationMs, m => timed ? outcome.DurationMs : m.DurationMs)
                .SetProperty(m => m.ErrorCode, outcome.ErrorCode)
                .SetProperty(m => m.CheckpointChunks, outcome.ChunkCount)
                .SetProperty(m => m.LeaseExpiresAt, (DateTimeOffset?)null), cancellationToken);
        return updated == 1;
    }

    public async Task<IReadOnlySet<Guid>> RenewAsync(IReadOnlyList<LeaseRenewal> renewals, CancellationToken cancellationToken)
    {
        // One statement for every generation this process owns: the lease, and the text of those that grew.
        const string Sql = """
            UPDATE chat_messages m
            SET lease_expires_at = clock_timestamp() + $2,
                content = COALESCE(v.content, m.content),
                checkpoint_chunks = CASE WHEN v.content IS NULL THEN m.checkpoint_chunks ELSE v.chunks END
            FROM unnest($3::uuid[], $4::text[], $5::bigint[]) AS v(id, content, chunks)
            WHERE m.id = v.id AND m.status = 'streaming' AND m.lease_owner = $1
            RETURNING m.id
            """;
        await using var db = contexts.CreateDbContext(DataScope.System);
        var ids = await db.Database.ReadRowsAsync(Sql, parameters =>
        {
            parameters.Add(new() { Value = owner.Id });
            parameters.Add(new() { Value = _lease });
            parameters.Add(new() { Value = renewals.Select(r => r.AssistantMessageId).ToArray() });
            parameters.Add(new() { Value = renewals.Select(r => r.Text).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            parameters.Add(new() { Value = renewals.Select(r => r.Chunks).ToArray() });
        }, row => row.GetGuid(0), renewals.Count, cancellationToken);
        return ids.ToHashSet();
    }

    public async Task<IReadOnlyList<ExpiredGeneration>> ClaimExpiredAsync(int max, CancellationToken cancellationToken)
    {
        // SKIP LOCKED: replicas sweeping at once split the rows instead of waiting on each other.
        const string Sql = """
            UPDATE chat_messages m
            SET lease_owner = $1, lease_expires_at = clock_timestamp() + $2
            WHERE m.id IN (
                SELECT id FROM chat_messages
                WHERE status = 'streaming' AND generation_id IS NOT NULL
                  AND (lease_expires_at IS NULL OR lease_expires_at < clock_timestamp())
                ORDER BY lease_expires_at NULLS FIRST
                LIMIT $3
                FOR UPDATE SKIP LOCKED)
            RETURNING m.id, m.conversation_id, m.generation_id, m.content, m.checkpoint_chunks, m.model, m.provider
            """;
        // Once: the sweeper retries on its own clock.
        await using var db = contexts.CreateDbContext(DataScope.System);
        return await db.Database.ReadRowsAsync(Sql, parameters =>
        {
            parameters.Add(new() { Value = owner.Id });
            parameters.Add(new() { Value = _lease });
            parameters.Add(new() { Value = max });
        }, row => new ExpiredGeneration(
            row.GetGuid(0), row.GetGuid(1), row.GetGuid(2), row.GetString(3),
            row.IsDBNull(4) ? null : row.GetInt64(4), row.IsDBNull(5) ? null : row.GetString(5), row.IsDBNull(6) ? null : row.GetString(6)),
            max, cancellationToken);
    }
}
