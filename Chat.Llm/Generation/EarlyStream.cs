using Chat.Llm.Providers;
using Microsoft.Extensions.AI;

namespace Chat.Llm.Generation;

/// <summary>
/// The primary route's stream, started before the job's messages are committed: its first update is requested at
/// once and handed to the runner's loop by <see cref="TryTake"/>; <see cref="AbandonAsync"/> cancels and disposes it
/// if the loop never took it (the job was dropped, or failed before streaming).
/// </summary>
internal sealed class EarlyStream
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
