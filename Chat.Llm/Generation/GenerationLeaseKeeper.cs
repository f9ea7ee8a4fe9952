using Chat.Llm.Diagnostics;
using Chat.Llm.Options;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Chat.Llm.Generation;

/// <summary>
/// Every <see cref="GenerationOptions.LeaseRenewInterval"/>, extends this process's lease on each generation it owns and
/// checkpoints the text each produced since the last round, in one statement. A generation the database no longer
/// leases to us (a sweeper took it over while we could not renew) is marked lost, so its runner stops writing. A failed
/// round (PostgreSQL away) changes nothing: runners go on, and their leases run out unless a later round succeeds.
/// </summary>
public sealed class GenerationLeaseKeeper(
    GenerationLeases leases,
    IGenerationStore store,
    GenerationMetrics metrics,
    IOptions<LlmOptions> options,
    TimeProvider time,
    ILogger<GenerationLeaseKeeper> logger) : BackgroundService
{
    private readonly TimeSpan _interval = options.Value.Generation.LeaseRenewInterval;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await RenewOnceAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: the worker ends every generation itself.
        }
    }

    /// <summary>One round: renew and checkpoint every stored generation this process owns.</summary>
    public async Task RenewOnceAsync(CancellationToken cancellationToken)
    {
        var owned = leases.Active.Where(l => l.Persisted.IsCompletedSuccessfully && !l.IsLost).ToList();
        if (owned.Count == 0)
        {
            return;
        }

        var renewals = owned.ConvertAll(l => l.Renewal());
        var sentAt = time.GetTimestamp();
        IReadOnlySet<Guid> kept;
        try
        {
            // A round must not outlast the lease it renews.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_interval);
            kept = await store.RenewAsync(renewals, timeout.Token);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
        {
            metrics.RenewalsFailed(owned.Count);
            LlmLog.LeaseRenewalFailed(logger, ex, owned.Count);
            return;
        }

        for (var i = 0; i < owned.Count; i++)
        {
            if (kept.Contains(owned[i].AssistantMessageId))
            {
                owned[i].Renewed(renewals[i], sentAt);
            }
            else if (leases.Active.Contains(owned[i]))
            {
                // Still running here, but no longer ours in the database.
                LlmLog.LeaseLost(logger, owned[i].GenerationId);
                owned[i].Lose();
            }
        }
    }
}
