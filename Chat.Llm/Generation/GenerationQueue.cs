using System.Collections.Concurrent;
using System.Threading.Channels;
using Chat.Llm.Options;
using Microsoft.Extensions.Options;

namespace Chat.Llm.Generation;

/// <summary>
/// The bounded queue between a request and <see cref="GenerationWorker"/>. Back-pressure: when
/// <see cref="GenerationOptions.QueueCapacity"/> jobs are waiting, <see cref="TryEnqueue"/> refuses (answer 503 with a
/// Retry-After) and <see cref="EnqueueAsync"/> waits for room. Each accepted job gets a completion task that the worker
/// completes with the <see cref="GenerationOutcome"/> (the sync JSON reply awaits it; an SSE reply follows Redis instead).
/// </summary>
public sealed class GenerationQueue
{
    private readonly Channel<GenerationJob> _channel;
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource<GenerationOutcome>> _completions = new();

    private readonly GenerationLeases _leases;

    public GenerationQueue(IOptions<LlmOptions> options, GenerationLeases leases)
    {
        _leases = leases;
        _channel = Channel.CreateBounded<GenerationJob>(new BoundedChannelOptions(options.Value.Generation.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
    }

    /// <summary>Jobs waiting for a worker slot.</summary>
    public int Pending => _channel.Reader.Count;

    internal ChannelReader<GenerationJob> Reader => _channel.Reader;

    public bool TryEnqueue(GenerationJob job, out Task<GenerationOutcome> completion)
    {
        var tcs = Track(job);
        if (_channel.Writer.TryWrite(job))
        {
            completion = tcs.Task;
            return true;
        }

        _completions.TryRemove(job.GenerationId, out _);
        Untrack(job);
        completion = Task.FromCanceled<GenerationOutcome>(new CancellationToken(true));
        return false;
    }

    /// <summary>Waits for room (bounded by <paramref name="cancellationToken"/>); returns the completion task.</summary>
    public async ValueTask<Task<GenerationOutcome>> EnqueueAsync(GenerationJob job, CancellationToken cancellationToken)
    {
        var tcs = Track(job);
        try
        {
            await _channel.Writer.WriteAsync(job, cancellationToken);
        }
        catch
        {
            _completions.TryRemove(job.GenerationId, out _);
            Untrack(job);
            throw;
        }

        return tcs.Task;
    }

    /// <summary>The completion of a generation queued or running in this process, or null.</summary>
    public Task<GenerationOutcome>? Completion(Guid generationId) =>
        _completions.TryGetValue(generationId, out var tcs) ? tcs.Task : null;

    internal void Complete(GenerationOutcome outcome)
    {
        if (_completions.TryRemove(outcome.GenerationId, out var tcs))
        {
            tcs.TrySetResult(outcome);
        }
    }

    internal void Fault(Guid generationId, Exception exception)
    {
        if (_completions.TryRemove(generationId, out var tcs))
        {
            tcs.TrySetException(exception);
        }
    }

    internal void CompleteWriter() => _channel.Writer.TryComplete();

    private void Untrack(GenerationJob job)
    {
        if (_leases.TryGet(job.GenerationId, out var lease))
        {
            _leases.Release(lease);
        }
    }

    /// <summary>The job's completion, and its lease from now on: its message is leased to this process once stored,
    /// and must be renewed however long the job waits for a worker slot.</summary>
    private TaskCompletionSource<GenerationOutcome> Track(GenerationJob job)
    {
        var tcs = new TaskCompletionSource<GenerationOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_completions.TryAdd(job.GenerationId, tcs))
        {
            throw new InvalidOperationException($"Generation {job.GenerationId} is already queued.");
        }

        _leases.Track(job);

        return tcs;
    }
}
