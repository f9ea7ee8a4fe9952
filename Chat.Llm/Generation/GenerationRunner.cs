using System.Diagnostics;
using Chat.Llm.Diagnostics;
using Chat.Llm.Options;
using Chat.Llm.Providers;
using Chat.Messaging;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Chat.Llm.Generation;

/// <summary>
/// Runs one generation (the coordinator): calls the primary route's model at once, waits until the job's messages are
/// committed (<see cref="GenerationJob.Persisted"/>; if they were not, the job is dropped with nothing published or
/// stored), publishes <c>generation.started</c> (seq 0), streams the route's model — falling back along
/// <see cref="Routing.RoutePlan.Candidates"/> while no text has been produced — publishing every non-empty delta as a
/// <c>chunk</c> (seq 1..n), then stores the outcome and publishes one terminal frame (seq n+1). Each frame goes at once
/// to a follower in this process (<see cref="GenerationFeed"/>) and, in order, to Redis (<see cref="FrameOutlet"/>,
/// which holds frames while Redis is away). The generation is leased to this process (<see cref="GenerationLeases"/>):
/// the final write is retried while the lease lasts, and a run whose lease was taken over stops without writing more.
/// It never throws for a generation failure; the outcome says.
/// </summary>
public sealed class GenerationRunner(
    ProviderRegistry registry,
    IGenerationStore store,
    GenerationFramePublisher publisher,
    GenerationFeed feed,
    GenerationCancellation cancellation,
    GenerationLeases leases,
    GenerationMetrics metrics,
    IOptions<LlmOptions> options,
    ILogger<GenerationRunner> logger,
    TimeProvider? timeProvider = null)
{
    public const string ActivitySourceName = "Chat.Llm.Generation";
    private static readonly ActivitySource s_activity = new(ActivitySourceName);
    private static readonly TimeSpan s_storeTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_maxStoreBackoff = TimeSpan.FromSeconds(2);

    /// <summary>The error code of a job dropped because its messages were not stored (<see cref="GenerationJob.Persisted"/>).</summary>
    public const string NotStoredCode = "not_stored";

    private readonly GenerationOptions _settings = options.Value.Generation;
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    /// <summary>Runs <paramref name="job"/>; <paramref name="stopping"/> is the host's stopping token (a shutdown ends the generation as failed, <c>server_shutdown</c>).</summary>
    public async Task<GenerationOutcome> RunAsync(GenerationJob job, CancellationToken stopping)
    {
        using var activity = s_activity.StartActivity("chat.generation");
        activity?.SetTag("chat.conversation.id", job.ConversationId);
        activity?.SetTag("chat.generation.id", job.GenerationId);
        var lease = leases.Track(job);
        try
        {
            var (outcome, stored) = await RunLeasedAsync(job, lease, stopping);
            if (stored)
            {
                metrics.Ended(outcome.Status);
            }

            activity?.SetTag("chat.generation.status", GenerationMetrics.StatusName(outcome.Status));
            LlmLog.GenerationEnded(logger, job.GenerationId, outcome.Status.ToString(), outcome.Provider, outcome.Model, outcome.ChunkCount, outcome.TimeToFirstTokenMs, outcome.DurationMs);
            return outcome;
        }
        finally
        {
            leases.Release(lease);
        }
    }

    private async Task<(GenerationOutcome Outcome, bool Ended)> RunLeasedAsync(GenerationJob job, LeasedGeneration lease, CancellationToken stopping)
    {
        using var registration = cancellation.Register(job.GenerationId, stopping, lease.Lost);
        var token = registration.Token;
        var run = new GenerationRun(job, lease, _time);
        var outlet = new FrameOutlet(feed, publisher, _settings, metrics, _time);

        // The primary route's request goes out now, so the provider's connection and time to first token overlap the
        // commit of the messages this generation answers; nothing is published or stored before that commit.
        using var earlyCancel = job.Persisted.IsCompletedSuccessfully ? null : CancellationTokenSource.CreateLinkedTokenSource(token);
        var early = earlyCancel is null ? null : EarlyStream.Start(registry, job.Route.Primary, job.Messages, OptionsFor(job, job.Route.Primary), earlyCancel);
        try
        {
            if (!await IsPersistedAsync(job))
            {
                return (run.Outcome(GenerationStatus.Cancelled, NotStoredCode, "The messages of the generation were not stored."), false);
            }

            GenerationEnd end;
            try
            {
                await StartAsync(run, outlet, token);
                await StreamAsync(run, outlet, early, lease, token);
                end = run.Completed();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                end = EndOf(run, lease, ex, registration.CancelRequested, token);
            }

            return await FinishAsync(run, outlet, lease, end);
        }
        finally
        {
            await (early?.AbandonAsync() ?? ValueTask.CompletedTask);
            await outlet.SettleAsync();
        }
    }

    /// <summary>Whether the job's messages were committed; a job whose commit failed is dropped with nothing published.</summary>
    private async Task<bool> IsPersistedAsync(GenerationJob job)
    {
        try
        {
            await job.Persisted;
            return true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LlmLog.NotStored(logger, job.GenerationId);
            return false;
        }
    }

    /// <summary>Marks the generation streaming in the store, then publishes <c>generation.started</c> (seq 0).</summary>
    private async Task StartAsync(GenerationRun run, FrameOutlet outlet, CancellationToken token)
    {
        using (var storeTimeout = new CancellationTokenSource(s_storeTimeout, _time))
        {
            await store.MarkStreamingAsync(run.Job, storeTimeout.Token);
        }

        await outlet.SendAsync(run.Started());
        run.StartedPublished = true;
        token.ThrowIfCancellationRequested();
    }

    /// <summary>How a run that threw ends: superseded, cancelled, shut down, or failed with the provider's code.</summary>
    private GenerationEnd EndOf(GenerationRun run, LeasedGeneration lease, Exception ex, bool cancelRequested, CancellationToken token)
    {
        switch (ex)
        {
            case OperationCanceledException when token.IsCancellationRequested:
                return lease.IsLost ? run.Superseded()
                    : cancelRequested ? run.Cancelled()
                    : run.Failed(LlmErrorCodes.ServerShutdown, "The server shut down during the generation.");
            case LlmException llm:
                return run.Failed(llm.Code, llm.Message);
            default:
                // Redis or the store failed mid-way: still end the stream and record the partial text.
                LlmLog.GenerationFailed(logger, ex, run.Job.GenerationId, "internal_error");
                return run.Failed("internal_error", "The generation failed.");
        }
    }

    /// <summary>Streams the first route that answers, falling back while no text has been produced.</summary>
    private async Task StreamAsync(GenerationRun run, FrameOutlet outlet, EarlyStream? early, LeasedGeneration lease, CancellationToken token)
    {
        var primary = run.Job.Route.Primary;
        LlmException? lastError = null;
        foreach (var candidate in run.Job.Route.Candidates)
        {
            run.Used = candidate;
            try
            {
                var updates = (ReferenceEquals(candidate, primary) ? early?.TryTake() : null)
                    ?? registry.GetClient(candidate).GetStreamingResponseAsync(run.Job.Messages, OptionsFor(run.Job, candidate), token);
                await foreach (var update in updates.WithCancellation(token))
                {
                    run.Observe(update);
                    if (!string.IsNullOrEmpty(update.Text))
                    {
                        await outlet.SendAsync(run.Chunk(update.Text));
                        if (outlet.Superseded)
                        {
                            lease.Lose(); // the stream already holds what another process wrote: stop here
                        }
                    }
                }

                run.Attempts.Add(candidate.Id);
                return;
            }
            catch (LlmException ex) when (!run.HasText && !token.IsCancellationRequested)
            {
                // Nothing reached the client yet: the next route can still answer cleanly.
                run.Attempts.Add($"{candidate.Id} ({ex.Code})");
                lastError = ex;
                LlmLog.FallingBack(logger, run.Job.GenerationId, candidate.Provider, candidate.Name, ex.Code);
            }
        }

        run.Used = primary;
        var tried = string.Join(", ", run.Attempts);
        throw run.Job.Route.Candidates.Count == 1
            ? new LlmException(lastError!.Code, $"{lastError.Message} Tried: {tried}.", lastError)
            : new LlmException(LlmErrorCodes.AllProvidersFailed, $"Every model route failed before its first token. Tried: {tried}.", lastError);
    }

    /// <summary>
    /// Ends the run: every chunk into Redis (waiting up to <see cref="GenerationOptions.RedisWait"/> for it), the outcome
    /// stored (retried while the lease lasts), then the terminal frame — so whoever sees it finds every chunk in the
    /// stream and, unless PostgreSQL was away for longer than the lease, the final message in the database. A run that
    /// lost its lease writes nothing: the process that took it over ends it. Returns whether the outcome was stored here.
    /// </summary>
    private async Task<(GenerationOutcome, bool)> FinishAsync(GenerationRun run, FrameOutlet outlet, LeasedGeneration lease, GenerationEnd end)
    {
        if (end.Terminal is not { } terminal)
        {
            return (end.Outcome, false);
        }

        var redisDeadline = _time.GetTimestamp() + (long)(_settings.RedisWait.TotalSeconds * _time.TimestampFrequency);
        await FlushAsync(run, outlet, redisDeadline);
        if (outlet.Superseded || lease.IsLost)
        {
            return (run.Superseded().Outcome, false);
        }

        var stored = await StoreAsync(lease, end.Outcome);
        if (stored is null)
        {
            return (run.Superseded().Outcome, false);
        }

        if (!run.StartedPublished)
        {
            // The store or Redis failed before seq 0 went out: keep the contract (0, then the terminal frame at 1).
            await outlet.SendAsync(run.Started());
        }

        await outlet.SendAsync(terminal);
        await FlushAsync(run, outlet, redisDeadline);
        return (end.Outcome, stored.Value);
    }

    private async Task FlushAsync(GenerationRun run, FrameOutlet outlet, long deadline)
    {
        var wait = _time.GetElapsedTime(deadline).Negate();
        if (!await outlet.FlushAsync(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, CancellationToken.None))
        {
            LlmLog.FramesUnpublished(logger, run.Job.GenerationId, _settings.RedisWait.TotalSeconds);
        }
    }

    /// <summary>
    /// Stores the outcome, retrying with backoff while the lease lasts. True: stored. False: the database was unreachable
    /// until the lease ran out — the terminal frame still goes out, and the sweeper stores the outcome from the stream.
    /// Null: another process owns the generation now.
    /// </summary>
    private async Task<bool?> StoreAsync(LeasedGeneration lease, GenerationOutcome outcome)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using var timeout = new CancellationTokenSource(s_storeTimeout, _time);
                return await store.FinishAsync(outcome, timeout.Token) ? true : null;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                if (lease.IsLost)
                {
                    return null;
                }

                if (lease.Remaining <= delay)
                {
                    LlmLog.FinishHandedOver(logger, outcome.GenerationId);
                    return false;
                }

                LlmLog.FinishRetrying(logger, ex, outcome.GenerationId, attempt);
                await Task.Delay(delay, _time);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, s_maxStoreBackoff.Ticks));
            }
        }
    }

    private static ChatOptions OptionsFor(GenerationJob job, ModelDescriptor candidate) => new()
    {
        ModelId = candidate.Name,
        MaxOutputTokens = job.MaxOutputTokens ?? candidate.MaxOutputTokens,
        Temperature = job.Temperature,
    };
}
