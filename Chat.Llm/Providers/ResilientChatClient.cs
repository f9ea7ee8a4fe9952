using System.Runtime.CompilerServices;
using Chat.Llm.Diagnostics;
using Chat.Llm.Options;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Timeout;

namespace Chat.Llm.Providers;

/// <summary>
/// The outermost link of every provider pipeline. Runs each call through the provider's Polly pipeline
/// (<see cref="LlmResilience"/>: retries of transient failures, the attempt timeout) — a stream only until its first text
/// reached the caller, so nothing is ever produced twice; bounds the whole call (<see cref="TimeoutOptions.Total"/>) and,
/// after the first text, the silence between updates (<see cref="TimeoutOptions.Idle"/>); and turns every failure into an
/// <see cref="LlmException"/> with a stable code. A caller's own cancellation passes through as
/// <see cref="OperationCanceledException"/>.
/// </summary>
internal sealed class ResilientChatClient(IChatClient inner, ResiliencePipeline pipeline, string providerName, TimeoutOptions timeouts, ILogger logger)
    : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var call = new Call(InnerClient, messages as IReadOnlyList<ChatMessage> ?? messages.ToList(), options);
        using var total = Deadline(cancellationToken);
        var context = ResilienceContextPool.Shared.Get(total.Token);
        try
        {
            return await pipeline.ExecuteAsync(static (context, call) => call.RespondAsync(context.CancellationToken), context, call);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw GaveUp(ex, total, call.Attempts);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var call = new Call(InnerClient, messages as IReadOnlyList<ChatMessage> ?? messages.ToList(), options);
        using var total = Deadline(cancellationToken);
        var stream = await OpenAsync(call, total, cancellationToken);
        await using (stream)
        {
            foreach (var update in stream.Head)
            {
                yield return update;
            }

            while (true)
            {
                bool more;
                try
                {
                    more = await stream.MoveNextAsync(timeouts.Idle);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    throw Interrupted(ex, stream, total);
                }

                if (!more)
                {
                    yield break;
                }

                yield return stream.Current;
            }
        }
    }

    private CancellationTokenSource Deadline(CancellationToken cancellationToken)
    {
        var total = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        total.CancelAfter(timeouts.Total);
        return total;
    }

    /// <summary>Opens the stream through the pipeline: attempts are retried until one produced its first text.</summary>
    private async Task<ProviderStream> OpenAsync(Call call, CancellationTokenSource total, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(total.Token);
        context.Properties.Set(LlmResilience.Streaming, true);
        try
        {
            return await pipeline.ExecuteAsync(static (context, state) => state.Call.OpenAsync(state.Idle, context.CancellationToken, state.Total), context,
                (Call: call, Total: total.Token, Idle: timeouts.Idle));
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw GaveUp(ex, total, call.Attempts);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>The failure of a call that the pipeline gave up on (not retried, or retried until the last attempt).</summary>
    private LlmException GaveUp(Exception exception, CancellationTokenSource total, int attempts)
    {
        var error = exception switch
        {
            _ when total.IsCancellationRequested => new LlmException(LlmErrorCodes.TotalTimeout, "The model did not answer within the time limit.", exception),
            TimeoutRejectedException => new LlmException(LlmErrorCodes.FirstTokenTimeout, $"The model sent nothing within {timeouts.FirstToken.TotalSeconds:0.###} s.", exception, isTransient: true),
            _ => TransientFailures.Classify(exception),
        };
        LlmLog.ProviderCallFailed(logger, providerName, error.Code, attempts);
        return error;
    }

    /// <summary>The failure of a stream after its first text: never retried (the caller has that text).</summary>
    private LlmException Interrupted(Exception exception, ProviderStream stream, CancellationTokenSource total)
    {
        if (total.IsCancellationRequested)
        {
            return new LlmException(LlmErrorCodes.TotalTimeout, "The model did not finish within the time limit.", exception);
        }

        if (stream.TimedOut)
        {
            return new LlmException(LlmErrorCodes.IdleTimeout, $"The model stream stalled for more than {timeouts.Idle.TotalSeconds:0.###} s.", exception);
        }

        var error = TransientFailures.Classify(exception);
        return error.Code == LlmErrorCodes.UpstreamUnavailable
            ? new LlmException(LlmErrorCodes.StreamInterrupted, "The model stream broke off before it finished.", exception) { UpstreamStatus = error.UpstreamStatus }
            : error;
    }

    /// <summary>One call's request, and its attempts (each run by the pipeline with the attempt's token).</summary>
    private sealed class Call(IChatClient inner, IReadOnlyList<ChatMessage> messages, ChatOptions? options)
    {
        public int Attempts { get; private set; }

        public async ValueTask<ChatResponse> RespondAsync(CancellationToken attempt)
        {
            Attempts++;
            var probe = RetryAfterProbe.Open();
            try
            {
                return await inner.GetResponseAsync(messages, options, attempt);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException && !attempt.IsCancellationRequested)
            {
                throw TransientFailures.Classify(ex, probe.Delay);
            }
        }

        /// <summary>Opens the stream and reads up to its first text. The attempt's token (its timeout is the first
        /// token's) stops the reads only until the first update of any kind; updates before the first text (a reasoning
        /// model's thinking) each come within <paramref name="idle"/> of silence, as every later one does. The stream's
        /// reads follow the call's token (<paramref name="call"/>).</summary>
        public async ValueTask<ProviderStream> OpenAsync(TimeSpan idle, CancellationToken attempt, CancellationToken call)
        {
            Attempts++;
            var probe = RetryAfterProbe.Open();
            ProviderStream? stream = null;
            try
            {
                stream = ProviderStream.Open(inner, messages, options, call);
                using (attempt.UnsafeRegister(static s => ((ProviderStream)s!).Abort(), stream))
                {
                    await stream.ReadFirstAsync();
                }

                await stream.ReadHeadAsync(idle);
                return stream;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                if (stream is not null)
                {
                    await stream.DisposeAsync();
                }

                // The attempt timed out (the pipeline reports it) or the call ended: not a provider failure.
                attempt.ThrowIfCancellationRequested();
                if (stream is { TimedOut: true } && !call.IsCancellationRequested)
                {
                    // Stalled before its first text: nothing reached the caller, so it may be retried.
                    throw new LlmException(LlmErrorCodes.FirstTokenTimeout, $"The model stalled for more than {idle.TotalSeconds:0.###} s before its first text.", ex, isTransient: true);
                }

                throw TransientFailures.Classify(ex, probe.Delay);
            }
        }
    }
}
