using System.Diagnostics;
using System.Text;
using Chat.Llm.Diagnostics;
using Chat.Llm.Options;
using Chat.Llm.Providers;
using Chat.Messaging;
using Chat.Messaging.Contracts;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Chat.Llm.Generation;

/// <summary>
/// Runs one generation (the coordinator): calls the primary route's model at once, waits until the job's messages are
/// committed (<see cref="GenerationJob.Persisted"/>; if they were not, the job is dropped with nothing published or
/// stored), marks it streaming, publishes <c>generation.started</c> (seq 0), streams the route's model — falling back along <see cref="Routing.RoutePlan.Candidates"/> while no text has been produced —
/// publishing every non-empty delta as a <c>chunk</c> (seq 1..n, one per provider update, no coalescing), then one
/// terminal frame (seq n+1) and the matching store call. Each frame goes at once to a follower in this process
/// (<see cref="GenerationFeed"/>) and, in order, to Redis, with one write in flight while the next frame is produced.
/// It never throws for a generation failure; the outcome says.
/// </summary>
public sealed class GenerationRunner(
    ProviderRegistry registry,
    IGenerationStore store,
    GenerationFramePublisher publisher,
    GenerationFeed feed,
    GenerationCancellation cancellation,
    IOptions<LlmOptions> options,
    ILogger<GenerationRunner> logger,
    TimeProvider? timeProvider = null)
{
    public const string ActivitySourceName = "Chat.Llm.Generation";
    private static readonly ActivitySource s_activity = new(ActivitySourceName);
    private static readonly TimeSpan s_storeTimeout = TimeSpan.FromSeconds(15);

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
        using var registration = cancellation.Register(job.GenerationId, stopping);
        var token = registration.Token;
        var start = _time.GetTimestamp();
        var primary = job.Route.Primary;
        var text = new StringBuilder();
        var attempts = new List<string>();
        long seq = 0;
        long chunks = 0;
        var startedPublished = false;
        int? ttft = null;
        FrameUsage? usage = null;
        string? finish = null;
        var used = primary;
        var outlet = new FrameOutlet(feed, publisher, _settings);

        GenerationOutcome Outcome(GenerationStatus status, string? code = null, string? message = null) => new()
        {
            ConversationId = job.ConversationId,
            GenerationId = job.GenerationId,
            AssistantMessageId = job.AssistantMessageId,
            Status = status,
            Text = text.ToString(),
            FinishReason = finish,
            Usage = usage,
            Model = used.Name,
            Provider = used.Provider,
            TimeToFirstTokenMs = ttft,
            DurationMs = (int)_time.GetElapsedTime(start).TotalMilliseconds,
            ChunkCount = chunks,
            ErrorCode = code,
            ErrorMessage = message,
            Attempts = attempts,
        };

        GenerationFrame Frame(string type) => new()
        {
            Type = type,
            ConversationId = job.ConversationId,
            GenerationId = job.GenerationId,
            Seq = seq,
            MessageId = job.AssistantMessageId,
        };

        // The primary route's request goes out now, so the provider's connection and time to first token overlap the
        // commit of the messages this generation answers; nothing is published or stored before that commit.
        using var earlyCancel = job.Persisted.IsCompletedSuccessfully ? null : CancellationTokenSource.CreateLinkedTokenSource(token);
        var early = earlyCancel is null ? null : EarlyStream.Start(registry, primary, job.Messages, OptionsFor(job, primary), earlyCancel);
        try
        {
            await job.Persisted;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            await (early?.AbandonAsync() ?? ValueTask.CompletedTask);
            LlmLog.NotStored(logger, job.GenerationId);
            return Outcome(GenerationStatus.Cancelled, NotStoredCode, "The messages of the generation were not stored.");
        }

        GenerationOutcome outcome;
        try
        {
            using (var storeTimeout = new CancellationTokenSource(s_storeTimeout))
            {
                await store.MarkStreamingAsync(job, storeTimeout.Token);
            }

            await outlet.SendAsync(Frame(FrameTypes.Started) with { Model = primary.Name, Provider = primary.Provider });
            startedPublished = true;
            token.ThrowIfCancellationRequested();

            var succeeded = false;
            LlmException? lastError = null;
            foreach (var candidate in job.Route.Candidates)
            {
                used = candidate;
                try
                {
                    var updates = (ReferenceEquals(candidate, primary) ? early?.TryTake() : null)
                        ?? registry.GetClient(candidate).GetStreamingResponseAsync(job.Messages, OptionsFor(job, candidate), token);
                    await foreach (var update in updates.WithCancellation(token))
                    {
                        foreach (var u in update.Contents.OfType<UsageContent>())
                        {
                            usage = new FrameUsage(ToInt(u.Details.InputTokenCount), ToInt(u.Details.OutputTokenCount), ToInt(u.Details.TotalTokenCount));
                        }

                        if (update.FinishReason is { } reason)
                        {
                            finish = reason.Value;
                        }

                        var delta = update.Text;
                        if (string.IsNullOrEmpty(delta))
                        {
                            continue;
                        }

                        ttft ??= (int)_time.GetElapsedTime(start).TotalMilliseconds;
                        text.Append(delta);
                        seq++;
                        chunks++;
                        await outlet.SendAsync(Frame(FrameTypes.Chunk) with { Delta = delta });
                    }

                    attempts.Add(candidate.Id);
                    succeeded = true;
                    break;
                }
                catch (LlmException ex) when (text.Length == 0 && !token.IsCancellationRequested)
                {
                    // Nothing reached the client yet: the next route can still answer cleanly.
                    attempts.Add($"{candidate.Id} ({ex.Code})");
                    lastError = ex;
                    LlmLog.FallingBack(logger, job.GenerationId, candidate.Provider, candidate.Name, ex.Code);
                }
            }

            if (!succeeded)
            {
                used = primary;
                var tried = string.Join(", ", attempts);
                throw job.Route.Candidates.Count == 1
                    ? new LlmException(lastError!.Code, $"{lastError.Message} Tried: {tried}.", lastError)
                    : new LlmException(LlmErrorCodes.AllProvidersFailed, $"Every model route failed before its first token. Tried: {tried}.", lastError);
            }

            if (usage is { TotalTokens: null } partialUsage)
            {
                usage = partialUsage with { TotalTokens = partialUsage.PromptTokens + partialUsage.CompletionTokens };
            }

            finish ??= "stop";
            seq++;
            outcome = Outcome(GenerationStatus.Completed);
            // Every chunk is in Redis, and the message persisted, before the terminal frame: a client that sees it can
            // read the final message at once.
            await outlet.DrainAsync();
            try
            {
                await StoreAsync(store.CompleteAsync, outcome);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException and not OperationCanceledException)
            {
                LlmLog.FinishFailed(logger, ex, job.GenerationId);
            }
            await outlet.SendAsync(Frame(FrameTypes.Completed) with { Model = used.Name, Provider = used.Provider, FinishReason = finish, Usage = usage });
            await outlet.DrainAsync();
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            seq++;
            if (registration.CancelRequested)
            {
                outcome = Outcome(GenerationStatus.Cancelled, "cancelled", "The generation was cancelled.");
                await FinishSafelyAsync(job, outlet, startedPublished, Frame(FrameTypes.Cancelled) with { Model = used.Name, Provider = used.Provider }, store.CancelAsync, outcome);
            }
            else
            {
                outcome = Outcome(GenerationStatus.Failed, LlmErrorCodes.ServerShutdown, "The server shut down during the generation.");
                await FinishSafelyAsync(job, outlet, startedPublished, FailedFrame(Frame(FrameTypes.Failed), outcome), store.FailAsync, outcome);
            }
        }
        catch (LlmException ex)
        {
            seq++;
            outcome = Outcome(GenerationStatus.Failed, ex.Code, ex.Message);
            await FinishSafelyAsync(job, outlet, startedPublished, FailedFrame(Frame(FrameTypes.Failed), outcome), store.FailAsync, outcome);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Redis or the store failed mid-way: still try to end the stream and record the partial text.
            LlmLog.GenerationFailed(logger, ex, job.GenerationId, "internal_error");
            seq++;
            outcome = Outcome(GenerationStatus.Failed, "internal_error", "The generation failed.");
            await FinishSafelyAsync(job, outlet, startedPublished, FailedFrame(Frame(FrameTypes.Failed), outcome), store.FailAsync, outcome);
        }
        finally
        {
            await (early?.AbandonAsync() ?? ValueTask.CompletedTask);
            await outlet.SettleAsync();
        }

        activity?.SetTag("chat.generation.status", outcome.Status.ToString().ToLowerInvariant());
        LlmLog.GenerationEnded(logger, job.GenerationId, outcome.Status.ToString(), outcome.Provider, outcome.Model, outcome.ChunkCount, outcome.TimeToFirstTokenMs, outcome.DurationMs);
        return outcome;
    }

    private static ChatOptions OptionsFor(GenerationJob job, ModelDescriptor candidate) => new()
    {
        ModelId = candidate.Name,
        MaxOutputTokens = job.MaxOutputTokens ?? candidate.MaxOutputTokens,
        Temperature = job.Temperature,
    };

    private static GenerationFrame FailedFrame(GenerationFrame frame, GenerationOutcome outcome) =>
        frame with { Model = outcome.Model, Provider = outcome.Provider, Code = outcome.ErrorCode, Message = outcome.ErrorMessage };

    private static async Task StoreAsync(Func<GenerationOutcome, CancellationToken, Task> call, GenerationOutcome outcome)
    {
        using var timeout = new CancellationTokenSource(s_storeTimeout);
        await call(outcome, timeout.Token);
    }

    private async Task FinishSafelyAsync(GenerationJob job, FrameOutlet outlet, bool startedPublished, GenerationFrame terminal, Func<GenerationOutcome, CancellationToken, Task> storeCall, GenerationOutcome outcome)
    {
        // Persist first, then end the stream: whoever sees the terminal frame can read the stored message.
        try
        {
            await outlet.DrainAsync();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LlmLog.FinishFailed(logger, ex, job.GenerationId);
        }

        try
        {
            await StoreAsync(storeCall, outcome);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LlmLog.FinishFailed(logger, ex, job.GenerationId);
        }

        try
        {
            if (!startedPublished)
            {
                // The store or Redis failed before seq 0 went out: keep the contract (0, then the terminal frame at 1).
                await outlet.SendAsync(terminal with { Type = FrameTypes.Started, Seq = 0, Code = null, Message = null });
            }

            await outlet.SendAsync(terminal);
            await outlet.DrainAsync();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LlmLog.FinishFailed(logger, ex, job.GenerationId);
        }
    }

    /// <summary>
    /// The primary route's stream, started before the job's messages are committed: its first update is requested at
    /// once and handed to the runner's loop by <see cref="TryTake"/>; <see cref="AbandonAsync"/> cancels and disposes it
    /// if the loop never took it (the job was dropped, or failed before streaming).
    /// </summary>
    private sealed class EarlyStream
    {
        private readonly IAsyncEnumerator<ChatResponseUpdate> _stream;
        private readonly Task<bool> _first;
        private readonly CancellationTokenSource _cancel;
        private bool _taken;

        private EarlyStream(IAsyncEnumerator<ChatResponseUpdate> stream, CancellationTokenSource cancel)
        {
            _stream = stream;
            _cancel = cancel;
            _first = MoveNextAsync(stream);
        }

        /// <summary>Starts the stream, or returns null if the provider refuses at once: the runner's loop then meets that
        /// refusal where it handles it (falling back to the next route).</summary>
        public static EarlyStream? Start(ProviderRegistry registry, ModelDescriptor route, IReadOnlyList<ChatMessage> messages, ChatOptions options, CancellationTokenSource cancel)
        {
            try
            {
                return new(registry.GetClient(route).GetStreamingResponseAsync(messages, options, cancel.Token).GetAsyncEnumerator(cancel.Token), cancel);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                return null;
            }
        }

        /// <summary>The stream, the first time it is asked for; null after.</summary>
        public IAsyncEnumerable<ChatResponseUpdate>? TryTake()
        {
            if (_taken)
            {
                return null;
            }

            _taken = true;
            return Rest();
        }

        private async IAsyncEnumerable<ChatResponseUpdate> Rest()
        {
            await using (_stream)
            {
                if (!await _first)
                {
                    yield break;
                }

                yield return _stream.Current;
                while (await _stream.MoveNextAsync())
                {
                    yield return _stream.Current;
                }
            }
        }

        public async ValueTask AbandonAsync()
        {
            if (_taken)
            {
                return;
            }

            _taken = true;
            await _cancel.CancelAsync();
            try
            {
                await _first;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Abandoned on purpose: whatever the provider said no longer matters.
            }

            await _stream.DisposeAsync();
        }

        // An async method, so a provider that throws synchronously faults the task instead of the caller.
        private static async Task<bool> MoveNextAsync(IAsyncEnumerator<ChatResponseUpdate> stream) => await stream.MoveNextAsync();
    }

    private static int? ToInt(long? value) => value is null ? null : (int)Math.Min(value.Value, int.MaxValue);
}
