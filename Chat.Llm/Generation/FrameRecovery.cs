using Chat.Llm.Options;
using Chat.Messaging;

namespace Chat.Llm.Generation;

/// <summary>
/// Catches a generation's stream up after Redis was away (see <see cref="FrameOutlet"/> for the rules): one recovery at
/// a time, started only while the multiplexer is connected, with a 100 ms → 1 s back-off between failed attempts. It
/// waits for the live writes, reads the stream's ends, re-creates the stream if it lost frames we still hold, then
/// XADDs (pipelined, in batches) and PUBLISHes what is missing, in order.
/// </summary>
internal sealed class FrameRecovery(
    FrameLedger ledger, GenerationFramePublisher publisher, GenerationOptions settings, TimeProvider time, Func<Task> settleLiveWrites)
{
    public static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan LastRetry = TimeSpan.FromSeconds(1);

    /// <summary>Frames XADDed at once (pipelined) before their replies are read.</summary>
    private const int BatchSize = 256;

    // Guarded by the ledger's gate.
    private long _retryAt;
    private TimeSpan _backoff = FirstRetry;

    private enum BatchResult
    {
        Written,
        Failed,
        Superseded,
    }

    /// <summary>The recovery under way (completed when none is); read under the ledger's gate.</summary>
    public Task Current { get; private set; } = Task.CompletedTask;

    /// <summary>Starts a recovery if one is due (under the ledger's gate).</summary>
    public void TryStart()
    {
        if (ledger.Live || ledger.Superseded || !Current.IsCompleted || time.GetTimestamp() < _retryAt || !publisher.IsConnected)
        {
            return;
        }

        Current = RecoverAsync();
    }

    private async Task RecoverAsync()
    {
        // Off the sender's thread (and out of its lock) at once: the generation goes on while this writes.
        await Task.Yield();
        bool done;
        try
        {
            // The writes issued while live first: then nothing of ours is on its way to Redis while we look.
            await settleLiveWrites();
            done = await TryCatchUpAsync();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Redis failed a read or a delete mid-way: try again later.
            done = false;
        }

        lock (ledger.Gate)
        {
            if (done)
            {
                _backoff = FirstRetry;
                _retryAt = 0;
            }
            else
            {
                _retryAt = time.GetTimestamp() + (long)(_backoff.TotalSeconds * time.TimestampFrequency);
                _backoff = _backoff * 2 < LastRetry ? _backoff * 2 : LastRetry;
            }
        }
    }

    /// <summary>Writes what the stream misses; true when caught up (live again) or superseded, false when Redis failed.</summary>
    private async Task<bool> TryCatchUpAsync()
    {
        if (ledger.Superseded)
        {
            return true;
        }

        if (!publisher.IsConnected)
        {
            return false;
        }

        var ends = await publisher.ReadEndsAsync(ledger.GenerationId);
        bool rebuild;
        lock (ledger.Gate)
        {
            rebuild = ledger.Reconcile(ends);
            if (ledger.Superseded)
            {
                return true;
            }
        }

        if (rebuild && ends is not null)
        {
            await publisher.DeleteStreamAsync(ledger.GenerationId);
        }

        while (TakeBatch() is { } batch)
        {
            if (!publisher.IsConnected)
            {
                return false;
            }

            var result = await AppendAsync(batch);
            if (result == BatchResult.Superseded)
            {
                return true;
            }

            if (!await PublishWrittenAsync() || result == BatchResult.Failed)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The next frames to XADD, or null when there are none: caught up (live again) or superseded.</summary>
    private Batch? TakeBatch()
    {
        lock (ledger.Gate)
        {
            if (ledger.Superseded)
            {
                return null;
            }

            ledger.SkipLost();
            if (ledger.CaughtUp)
            {
                ledger.Live = true;
                return null;
            }

            var from = ledger.Written;
            var frames = ledger.Journal.Copy(from, Math.Min(BatchSize, ledger.Journal.End - from));
            var batch = new Batch(from, ledger.Attempted, frames);
            ledger.Attempted = Math.Max(ledger.Attempted, from + frames.Length);
            return batch;
        }
    }

    /// <summary>XADDs one batch (pipelined) and records how many frames in a row landed.</summary>
    private async Task<BatchResult> AppendAsync(Batch batch)
    {
        var frames = batch.Frames;
        var adds = new Task<FrameWriteStatus>[frames.Length];
        for (var i = 0; i < frames.Length; i++)
        {
            adds[i] = publisher.AppendAsync(ledger.GenerationId, frames[i].Seq, frames[i].Json, settings.StreamMaxLength,
                i == frames.Length - 1 ? settings.ReplayWindow : null);
        }

        var added = 0;
        var failed = false;
        for (var i = 0; i < adds.Length; i++)
        {
            var status = await adds[i];
            if (failed)
            {
                continue;
            }

            if (status == FrameWriteStatus.IdRefused && batch.From + i >= batch.AttemptedBefore)
            {
                // Refused the first time we tried it: another writer got there (see FrameOutlet's rule).
                ledger.Superseded = true;
                return BatchResult.Superseded;
            }

            if (status == FrameWriteStatus.NotWritten)
            {
                failed = true;
                continue;
            }

            added++;
        }

        lock (ledger.Gate)
        {
            ledger.Written = batch.From + added;
        }

        return failed ? BatchResult.Failed : BatchResult.Written;
    }

    /// <summary>PUBLISHes, in order, the frames in the stream not yet known published; false when Redis failed.</summary>
    private async Task<bool> PublishWrittenAsync()
    {
        long from;
        (long Seq, string Json)[] frames;
        lock (ledger.Gate)
        {
            from = ledger.Published;
            frames = ledger.Journal.Copy(from, ledger.Written - from);
        }

        if (frames.Length == 0)
        {
            return true;
        }

        var publishes = new Task<FrameWriteStatus>[frames.Length];
        for (var i = 0; i < frames.Length; i++)
        {
            publishes[i] = publisher.PublishOnlyAsync(ledger.ConversationId, frames[i].Json);
        }

        var published = 0;
        var failed = false;
        foreach (var publish in publishes)
        {
            if (await publish == FrameWriteStatus.Written && !failed)
            {
                published++;
            }
            else
            {
                failed = true;
            }
        }

        lock (ledger.Gate)
        {
            ledger.Published = from + published;
        }

        return !failed;
    }

    /// <summary>Frames from position <paramref name="From"/>; <paramref name="AttemptedBefore"/> is how many frames had been
    /// tried before this batch (a refusal of a frame at or beyond it means another writer).</summary>
    private sealed record Batch(long From, long AttemptedBefore, (long Seq, string Json)[] Frames);
}
