using Chat.Llm.Diagnostics;
using Chat.Llm.Options;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Chat.Llm.Generation;

/// <summary>
/// Executes queued generations, at most <see cref="GenerationOptions.MaxConcurrency"/> at once; a job waits in the
/// queue while every slot is busy. Generations run on the host's lifetime, not a request's, so they finish when the
/// client goes away. On shutdown, running generations end as <c>server_shutdown</c> (partial text saved) and jobs
/// still queued are ended the same way, so no assistant message is left <c>streaming</c>.
/// </summary>
public sealed class GenerationWorker(
    GenerationQueue queue,
    GenerationRunner runner,
    IOptions<LlmOptions> options,
    ILogger<GenerationWorker> logger) : BackgroundService
{
    private readonly SemaphoreSlim _slots = new(options.Value.Generation.MaxConcurrency);
    private readonly HashSet<Task> _running = [];
    private readonly Lock _gate = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var job in queue.Reader.ReadAllAsync(stoppingToken))
            {
                await _slots.WaitAsync(stoppingToken);
                Track(RunOneAsync(job, stoppingToken));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }

        queue.CompleteWriter();
        while (queue.Reader.TryRead(out var abandoned))
        {
            Track(RunOneAsync(abandoned, stoppingToken, holdsSlot: false));
        }

        Task[] remaining;
        lock (_gate)
        {
            remaining = [.. _running];
        }

        await Task.WhenAll(remaining);
    }

    public override void Dispose()
    {
        _slots.Dispose();
        base.Dispose();
    }

    private void Track(Task task)
    {
        lock (_gate)
        {
            _running.Add(task);
        }

        _ = task.ContinueWith(t =>
        {
            lock (_gate)
            {
                _running.Remove(t);
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task RunOneAsync(GenerationJob job, CancellationToken stoppingToken, bool holdsSlot = true)
    {
        try
        {
            await Task.Yield();
            var outcome = await runner.RunAsync(job, stoppingToken);
            queue.Complete(outcome);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LlmLog.WorkerCrashed(logger, ex, job.GenerationId);
            queue.Fault(job.GenerationId, ex);
        }
        finally
        {
            if (holdsSlot)
            {
                _slots.Release();
            }
        }
    }
}
