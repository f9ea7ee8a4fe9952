using Chat.Llm.Diagnostics;
using Chat.Llm.Options;
using Chat.Messaging;
using Chat.Messaging.Contracts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Chat.Llm.Generation;

/// <summary>
/// Ends the generations whose owner stopped renewing their lease (its process died, or lost the database for longer
/// than a lease): every <see cref="GenerationOptions.SweepInterval"/>, and at once on start (rows left by a crash before
/// this process ran). Any number of replicas sweep; the claim skips rows another is claiming, so each generation is
/// swept once. A claimed generation is given one renewal interval and a half, so an owner that is alive but was cut off
/// notices it lost the lease and stops, then <see cref="InterruptedGeneration.Plan"/> decides from its stream and
/// checkpoint, the outcome is stored and the missing frames (ending with the terminal one) are published.
/// After the database was unreachable, sweeping waits one lease duration so live owners renew first.
/// </summary>
public sealed class GenerationSweeper(
    IGenerationStore store,
    GenerationStreamReader reader,
    GenerationFramePublisher publisher,
    GenerationMetrics metrics,
    IOptions<LlmOptions> options,
    TimeProvider time,
    ILogger<GenerationSweeper> logger) : BackgroundService
{
    private const int BatchSize = 32;
    private static readonly TimeSpan s_callTimeout = TimeSpan.FromSeconds(10);
    private readonly GenerationOptions _settings = options.Value.Generation;
    private long? _lastFailure;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_settings.SweepInterval, time);
        try
        {
            do
            {
                await SweepOnceAsync(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    /// <summary>One round; returns how many generations it ended.</summary>
    public async Task<int> SweepOnceAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<ExpiredGeneration> claimed;
        try
        {
            if (_lastFailure is { } failed && time.GetElapsedTime(failed) < _settings.LeaseDuration)
            {
                // The database just came back: owners that are alive renew within a lease before anything is swept.
                return 0;
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(s_callTimeout);
            claimed = await store.ClaimExpiredAsync(BatchSize, timeout.Token);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
        {
            _lastFailure = time.GetTimestamp();
            LlmLog.SweepFailed(logger, ex, _settings.SweepInterval.TotalSeconds);
            return 0;
        }

        if (claimed.Count == 0)
        {
            return 0;
        }

        // Let an owner that is alive see, at its next renewal, that the lease is gone, and stop writing frames.
        await Task.Delay(_settings.LeaseRenewInterval * 1.5, time, cancellationToken);
        var ended = 0;
        foreach (var generation in claimed)
        {
            ended += await EndAsync(generation, cancellationToken) ? 1 : 0;
        }

        return ended;
    }

    private async Task<bool> EndAsync(ExpiredGeneration generation, CancellationToken cancellationToken)
    {
        IReadOnlyList<GenerationFrame> stream;
        try
        {
            stream = await reader.ReadAfterAsync(generation.GenerationId, -1).WaitAsync(s_callTimeout, cancellationToken);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException and not OperationCanceledException)
        {
            // Redis is away: the checkpoint is all there is.
            LlmLog.SweptUnpublished(logger, ex, generation.GenerationId);
            stream = [];
        }

        var (outcome, frames) = InterruptedGeneration.Plan(generation, stream);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(s_callTimeout);
            if (!await store.FinishAsync(outcome, timeout.Token))
            {
                return false; // finished meanwhile by its owner, or taken by another sweeper
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
        {
            LlmLog.SweepFailed(logger, ex, _settings.SweepInterval.TotalSeconds);
            return false; // the claim lapses and a later round tries again
        }

        metrics.Swept();
        metrics.Ended(outcome.Status);
        LlmLog.Swept(logger, generation.GenerationId, generation.ConversationId, GenerationMetrics.StatusName(outcome.Status), outcome.ChunkCount);
        try
        {
            foreach (var frame in frames)
            {
                await publisher.PublishAsync(frame, _settings.ReplayWindow, _settings.StreamMaxLength).WaitAsync(s_callTimeout, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException and not OperationCanceledException)
        {
            LlmLog.SweptUnpublished(logger, ex, generation.GenerationId);
        }

        return true;
    }
}
