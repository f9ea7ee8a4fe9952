using Chat.Llm.Diagnostics;
using Chat.Llm.Options;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Chat.Llm.Providers;

/// <summary>
/// The resilience pipeline of one provider (Polly), built once from <see cref="RetryOptions"/> and
/// <see cref="TimeoutOptions"/>: a retry of transient failures (<see cref="TransientFailures"/>) with exponential back-off
/// and jitter, or after the provider's <c>Retry-After</c> when it sent one (<see cref="RetryAfterProbe"/>), around an
/// attempt timeout — <see cref="TimeoutOptions.FirstToken"/> for a stream's attempt (until its first text), none for a
/// whole answer. The call's total limit is not in the pipeline: a stream outlives the pipeline's execution, so
/// <see cref="ResilientChatClient"/> bounds the whole call with one token.
/// </summary>
internal static class LlmResilience
{
    /// <summary>Set on a call's context when its attempts are stream openings (bounded by the first-token timeout).</summary>
    public static readonly ResiliencePropertyKey<bool> Streaming = new("chat.llm.streaming");

    public static ResiliencePipeline Build(string provider, RetryOptions retry, TimeoutOptions timeouts, TimeProvider time, ILogger logger)
    {
        var builder = new ResiliencePipelineBuilder { Name = $"llm-{provider}", TimeProvider = time };
        if (retry.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = retry.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = retry.BaseDelay,
                MaxDelay = retry.MaxDelay,
                ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Outcome.Exception, retry.MaxDelay)),
                DelayGenerator = args => ValueTask.FromResult(RetryAfterOf(args.Outcome.Exception)),
                OnRetry = args =>
                {
                    LlmLog.RetryingProviderCall(logger, provider, CodeOf(args.Outcome.Exception), args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds);
                    return ValueTask.CompletedTask;
                },
            });
        }

        return builder.AddTimeout(new TimeoutStrategyOptions
        {
            TimeoutGenerator = args => ValueTask.FromResult(args.Context.Properties.GetValue(Streaming, false) ? timeouts.FirstToken : Timeout.InfiniteTimeSpan),
        }).Build();
    }

    /// <summary>The stable code of a failure that left the pipeline (or is about to be retried).</summary>
    public static string CodeOf(Exception? exception) => exception switch
    {
        LlmException llm => llm.Code,
        TimeoutRejectedException => LlmErrorCodes.FirstTokenTimeout,
        _ => LlmErrorCodes.UpstreamError,
    };

    /// <summary>Transient failures and attempt timeouts are retried, unless the provider asked for a longer pause than
    /// <see cref="RetryOptions.MaxDelay"/>: then the call fails at once, so the runner can fall back to another route.</summary>
    internal static bool ShouldRetry(Exception? exception, TimeSpan maxDelay) => exception switch
    {
        TimeoutRejectedException => true,
        LlmException { IsTransient: true, RetryAfter: var after } => after is null || after <= maxDelay,
        _ => false,
    };

    /// <summary>The provider's Retry-After, which replaces the back-off; null keeps the back-off.</summary>
    internal static TimeSpan? RetryAfterOf(Exception? exception) => exception is LlmException { RetryAfter: { } after } ? after : null;
}
