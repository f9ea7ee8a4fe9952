using Chat.Llm.Options;
using Chat.Messaging;
using Chat.Messaging.Contracts;

namespace Chat.Llm.Generation;

/// <summary>
/// Where a generation's frames go: each to Redis, in order, and at once to <see cref="GenerationFeed"/> (the
/// multiplexer keeps one connection's commands in the order they are issued). <see cref="SendAsync"/> returns the
/// previous frame's write, so one write is in flight while the next frame is produced; a failed write surfaces at the
/// next send or at <see cref="DrainAsync"/>.
/// </summary>
internal sealed class FrameOutlet(GenerationFeed feed, GenerationFramePublisher publisher, GenerationOptions settings)
{
    private Task _pending = Task.CompletedTask;

    public Task SendAsync(GenerationFrame frame)
    {
        var previous = _pending;
        // Issued first (the commands are queued on the connection before this returns), then handed over: the local
        // follower may write its response inline, and Redis's followers should not wait for that.
        _pending = publisher.PublishAsync(frame, settings.ReplayWindow, settings.StreamMaxLength);
        feed.Deliver(frame);
        return previous;
    }

    /// <summary>Waits until every frame sent is in Redis; a failed write surfaces here once, not again at the next send.</summary>
    public Task DrainAsync()
    {
        var pending = _pending;
        _pending = Task.CompletedTask;
        return pending;
    }

    /// <summary>Interim: waits for the writes in flight; false when one failed.</summary>
    public async Task<bool> FlushAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        try
        {
            await DrainAsync();
            return true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return false;
        }
    }

    /// <summary>Interim: never detected yet.</summary>
    public bool Superseded { get; private set; }

    /// <summary>Observes the last write whatever became of it (its failure was logged or is moot by now).</summary>
    public async Task SettleAsync()
    {
        try
        {
            await _pending;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
        }
    }
}
