using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Chat.Llm.Providers;

/// <summary>
/// One attempt's stream of updates from a provider. <see cref="ReadHeadAsync"/> reads up to the first update with text
/// (inside the resilience pipeline, which may still retry); the rest is read with <see cref="MoveNextAsync"/>, each read
/// bounded by a timeout. Its own token (linked to the call's) outlives the pipeline's attempt token, which only aborts it
/// while the head is read.
/// </summary>
internal sealed class ProviderStream : IAsyncDisposable
{
    private static readonly TimeSpan s_disposeWait = TimeSpan.FromSeconds(2);

    private readonly CancellationTokenSource _attempt;
    private readonly IAsyncEnumerator<ChatResponseUpdate> _updates;

    private ProviderStream(IChatClient inner, IReadOnlyList<ChatMessage> messages, ChatOptions? options, CancellationToken call)
    {
        _attempt = CancellationTokenSource.CreateLinkedTokenSource(call);
        try
        {
            _updates = inner.GetStreamingResponseAsync(messages, options, _attempt.Token).GetAsyncEnumerator(_attempt.Token);
        }
        catch
        {
            _attempt.Dispose();
            throw;
        }
    }

    /// <summary>The updates read by <see cref="ReadHeadAsync"/>: none but the last has text.</summary>
    public List<ChatResponseUpdate> Head { get; } = [];

    /// <summary>The provider ended the stream (after a finish reason: <see cref="ReadHeadAsync"/> and
    /// <see cref="MoveNextAsync"/> throw for a stream that just stops).</summary>
    public bool Ended { get; private set; }

    /// <summary>True when a read was stopped by its own timeout (not by the call's token).</summary>
    public bool TimedOut => _attempt.IsCancellationRequested;

    public ChatResponseUpdate Current => _updates.Current;

    private bool Finished { get; set; }

    public static ProviderStream Open(IChatClient inner, IReadOnlyList<ChatMessage> messages, ChatOptions? options, CancellationToken call) =>
        new(inner, messages, options, call);

    /// <summary>Stops the reads of this attempt (the pipeline's attempt timeout fired).</summary>
    public void Abort() => _attempt.Cancel();

    /// <summary>Reads the first update of any kind (or the end of a complete answer without any).</summary>
    public async Task ReadFirstAsync()
    {
        if (await ReadAsync())
        {
            Head.Add(_updates.Current);
        }
    }

    /// <summary>Reads on until the first update with text, or the end of a complete answer without text; each update
    /// within <paramref name="idle"/> of silence.</summary>
    public async Task ReadHeadAsync(TimeSpan idle)
    {
        while (Head.Count > 0 && string.IsNullOrEmpty(Head[^1].Text) && await MoveNextAsync(idle))
        {
            Head.Add(_updates.Current);
        }
    }

    /// <summary>The next update within <paramref name="timeout"/> of silence; false at the end of a complete answer.
    /// Once per streamed update: pooled, so a read allocates no state machine.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> MoveNextAsync(TimeSpan timeout)
    {
        _attempt.CancelAfter(timeout);
        var more = await ReadAsync();

        // Time spent by our consumer (publishing to Redis) is not upstream silence.
        _attempt.CancelAfter(Timeout.InfiniteTimeSpan);
        return more;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            // Bounded: an SDK stuck in a read it never cancels must not hold the caller.
            await _updates.DisposeAsync().AsTask().WaitAsync(s_disposeWait, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A broken stream may fail again while being disposed; the first failure is what counts.
        }

        _attempt.Dispose();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReadAsync()
    {
        if (Ended)
        {
            return false;
        }

        // WaitAsync: stop waiting on time even if the SDK ignores the token while reading.
        if (await _updates.MoveNextAsync().AsTask().WaitAsync(_attempt.Token))
        {
            Finished |= _updates.Current.FinishReason is not null;
            return true;
        }

        if (!Finished)
        {
            // Every provider ends a complete answer with a finish/stop reason; a stream that just stops was cut (proxies
            // and some SDKs turn a dropped connection into a quiet end of stream).
            throw new LlmException(LlmErrorCodes.UpstreamUnavailable, "The model stream ended without a finish reason.", isTransient: true);
        }

        Ended = true;
        return false;
    }
}
