using System.Runtime.CompilerServices;
using Chat.Llm.Diagnostics;
using Chat.Llm.Options;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace Chat.Llm.Providers;

/// <summary>
/// The outermost link of every provider pipeline. Retries transient failures (429, 5xx, connection errors, a
/// first-token timeout) with exponential back-off <em>only while no text has been produced</em>; bounds the whole call
/// (<see cref="TimeoutOptions.Total"/>), the wait for the first update (<see cref="TimeoutOptions.FirstToken"/>) and the
/// silence between updates (<see cref="TimeoutOptions.Idle"/>); and turns every failure into an <see cref="LlmException"/>
/// with a stable code. A caller's own cancellation passes through as <see cref="OperationCanceledException"/>.
/// </summary>
internal sealed class ResilientChatClient(IChatClient inner, string providerName, TimeoutOptions timeouts, RetryOptions retry, ILogger logger)
    : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        using var total = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        total.CancelAfter(timeouts.Total);
        for (var attempt = 0; ; attempt++)
        {
            LlmException error;
            try
            {
                return await base.GetResponseAsync(list, options, total.Token);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                error = total.IsCancellationRequested
                    ? new LlmException(LlmErrorCodes.TotalTimeout, "The model did not answer within the time limit.", ex)
                    : TransientFailures.Classify(ex);
            }

            await DelayBeforeRetryAsync(error, attempt, total, cancellationToken);
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        using var total = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        total.CancelAfter(timeouts.Total);
        var producedText = false;
        for (var attempt = 0; ; attempt++)
        {
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(total.Token);
            IAsyncEnumerator<ChatResponseUpdate>? updates = null;
            Exception? failure = null;
            var receivedAny = false;
            var finished = false;
            try
            {
                try
                {
                    updates = base.GetStreamingResponseAsync(list, options, idle.Token).GetAsyncEnumerator(idle.Token);
                }
                catch (Exception ex)
                {
                    failure = ex;
                }

                while (failure is null)
                {
                    idle.CancelAfter(receivedAny ? timeouts.Idle : timeouts.FirstToken);
                    bool more;
                    try
                    {
                        // WaitAsync: stop waiting on time even if the SDK ignores the token while reading.
                        more = await updates!.MoveNextAsync().AsTask().WaitAsync(idle.Token);
                    }
                    catch (Exception ex)
                    {
                        failure = ex;
                        break;
                    }

                    // Time spent by our consumer (publishing to Redis) is not upstream silence.
                    idle.CancelAfter(Timeout.InfiniteTimeSpan);
                    if (!more)
                    {
                        if (finished)
                        {
                            yield break;
                        }

                        // Every provider ends a complete answer with a finish/stop reason; a stream that just stops
                        // was cut (proxies and some SDKs turn a dropped connection into a quiet end of stream).
                        failure = new LlmException(LlmErrorCodes.UpstreamUnavailable, "The model stream ended without a finish reason.", isTransient: true);
                        break;
                    }

                    receivedAny = true;
                    var update = updates.Current;
                    finished |= update.FinishReason is not null;
                    producedText |= !string.IsNullOrEmpty(update.Text);
                    yield return update;
                }
            }
            finally
            {
                if (updates is not null)
                {
                    try
                    {
                        // Bounded: an SDK stuck in a read it never cancels must not hold the caller.
                        await updates.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(2), CancellationToken.None);
                    }
                    catch (Exception ex) when (ex is not OutOfMemoryException)
                    {
                        // A broken stream may fail again while being disposed; the first failure is what counts.
                    }
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
            LlmException error;
            if (total.IsCancellationRequested)
            {
                error = new LlmException(LlmErrorCodes.TotalTimeout, "The model did not finish within the time limit.", failure);
            }
            else if (idle.IsCancellationRequested)
            {
                error = receivedAny
                    ? new LlmException(LlmErrorCodes.IdleTimeout, $"The model stream stalled for more than {timeouts.Idle.TotalSeconds:0.###} s.", failure)
                    : new LlmException(LlmErrorCodes.FirstTokenTimeout, $"The model sent nothing within {timeouts.FirstToken.TotalSeconds:0.###} s.", failure, isTransient: true);
            }
            else
            {
                error = TransientFailures.Classify(failure!);
                if (producedText && error.Code == LlmErrorCodes.UpstreamUnavailable)
                {
                    error = new LlmException(LlmErrorCodes.StreamInterrupted, "The model stream broke off before it finished.", failure) { UpstreamStatus = error.UpstreamStatus };
                }
            }

            if (producedText)
            {
                throw error;
            }

            await DelayBeforeRetryAsync(error, attempt, total, cancellationToken);
        }
    }

    private async Task DelayBeforeRetryAsync(LlmException error, int attempt, CancellationTokenSource total, CancellationToken cancellationToken)
    {
        if (!error.IsTransient || attempt >= retry.MaxRetries)
        {
            LlmLog.ProviderCallFailed(logger, providerName, error.Code, attempt + 1);
            throw error;
        }

        var delay = TimeSpan.FromTicks(Math.Min(retry.MaxDelay.Ticks, retry.BaseDelay.Ticks * (1L << Math.Min(attempt, 20))));
        LlmLog.RetryingProviderCall(logger, providerName, error.Code, attempt + 1, delay.TotalMilliseconds);
        try
        {
            await Task.Delay(delay, total.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new LlmException(LlmErrorCodes.TotalTimeout, "The model did not answer within the time limit.", error);
        }
    }
}
