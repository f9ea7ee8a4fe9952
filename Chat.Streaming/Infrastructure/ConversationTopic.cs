using Chat.Messaging.Contracts;
using Chat.Streaming.Protocol;
using Chat.Streaming.Services;
using StackExchange.Redis;

namespace Chat.Streaming.Infrastructure;

/// <summary>
/// One conversation this replica subscribes to in Redis, with its local subscribers, and the rule by which its frames
/// reach them: in order per generation, each once, a gap filled from the generation's stream first. Every method named
/// <c>…Locked</c> runs under <see cref="Gate"/>.
/// </summary>
internal sealed class ConversationTopic(Guid conversationId, StreamingTelemetry telemetry, TimeProvider time)
{
    private const int MaxTrackedGenerations = 256;
    private const int MaxRecentlyFinished = 64;

    private volatile Subscription[] _subscribers = [];

    public Guid ConversationId { get; } = conversationId;

    /// <summary>Copy-on-write (written under the hub's lock), so fan-out iterates without one.</summary>
    public Subscription[] Subscribers
    {
        get => _subscribers;
        set => _subscribers = value;
    }

    public Task Ready { get; set; } = Task.CompletedTask;

    public ChannelMessageQueue? Queue { get; set; }

    /// <summary>
    /// Serializes every delivery to the subscribers and guards the state below: the queue's sequential handler and a
    /// restore both deliver, and their frames must not interleave out of order. Taken after the hub's lock, never before.
    /// </summary>
    public Lock Gate { get; } = new();

    /// <summary>Last seq delivered per generation still running.</summary>
    public Dictionary<Guid, long> LastSeq { get; } = [];

    /// <summary>Generations that reached their terminal frame lately: a late copy of one of their frames is a duplicate.</summary>
    private HashSet<Guid>? RecentlyFinished { get; set; }

    /// <summary>The subscribers were told <c>stream.interrupted</c> and not yet <c>stream.restored</c>.</summary>
    public bool Interrupted { get; private set; }

    /// <summary>Generations whose stream could not be read during a restore (yet): retried until the grace runs out.</summary>
    public HashSet<Guid>? Missing { get; private set; }

    /// <summary>
    /// Until this timestamp (0: never) a generation first seen with seq &gt; 0 is filled from seq 0: it may have started
    /// while Redis was away, and its subscribers would otherwise never see its <c>generation.started</c>.
    /// </summary>
    private long FillFromStartUntil { get; set; }

    /// <summary>
    /// Delivers a live frame that is the next one of its generation (or the first seen of it) and drops a duplicate.
    /// When frames are missing before it, returns the seq after which they must first be read from the stream (-1: the
    /// generation appeared after an outage without its start, so from the start); the frame then waits for that read.
    /// </summary>
    public long? AdmitLocked(LiveFrame frame)
    {
        if (LastSeq.TryGetValue(frame.GenerationId, out var last))
        {
            var position = FrameSequence.Place(last, frame.Seq);
            if (position == SeqPosition.Duplicate)
            {
                return null; // duplicate publication
            }
            if (position == SeqPosition.Gap || (Missing is { Count: > 0 } missing && missing.Contains(frame.GenerationId)))
            {
                return last;
            }
        }
        else
        {
            // The first frame of a generation: once per generation, not per frame.
            if (RecentlyFinished?.Contains(frame.GenerationId) == true)
            {
                return null; // a late duplicate of a generation already delivered to its end
            }
            if (frame.Seq > 0 && FillFromStartUntil != 0 && time.GetTimestamp() < FillFromStartUntil)
            {
                return -1;
            }
        }
        DeliverLocked(frame);
        return null;
    }

    /// <summary>After a gap was read (<paramref name="stored"/>; null when the stream could not be read): delivers what it filled, then <paramref name="live"/>.</summary>
    public void FillLocked(LiveFrame live, IReadOnlyList<LiveFrame>? stored)
    {
        if (stored is not null)
        {
            CatchUpLocked(live.GenerationId, stored);
        }
        else if (Interrupted)
        {
            // Mid-restore the stream may be about to be re-created: hold the frame back rather than open a hole the
            // client could never fill; the restore retries the stream and names the generation if it never comes.
            MarkMissingLocked(live.GenerationId);
            return;
        }
        if (!LastSeq.TryGetValue(live.GenerationId, out var last) || !FrameSequence.IsDuplicate(last, live.Seq))
        {
            DeliverLocked(live);
        }
    }

    /// <summary>Delivers the frames read from a generation's stream that the subscribers have not had yet, in order.</summary>
    public void CatchUpLocked(Guid generationId, IReadOnlyList<LiveFrame> stored)
    {
        Missing?.Remove(generationId);
        foreach (var frame in stored)
        {
            if (LastSeq.TryGetValue(generationId, out var last) ? !FrameSequence.IsDuplicate(last, frame.Seq)
                : RecentlyFinished?.Contains(generationId) != true)
            {
                DeliverLocked(frame);
            }
        }
    }

    /// <summary>A generation's stream could not be read during a restore: retried, and named if it never comes.</summary>
    public void MarkMissingLocked(Guid generationId) => (Missing ??= []).Add(generationId);

    /// <summary>Tells the subscribers <c>stream.interrupted</c>; false when they were told already.</summary>
    public bool InterruptLocked()
    {
        if (Interrupted)
        {
            return false; // a reconnect attempt that failed again
        }
        Interrupted = true;
        FillFromStartUntil = long.MaxValue;
        NotifyLocked(InterruptedFrame());
        return true;
    }

    /// <summary>Ends the interruption: <c>stream.restored</c> to every subscriber, recovered unless <paramref name="unrecovered"/>.</summary>
    public void FinishLocked(Guid[]? unrecovered, TimeSpan fillFromStartFor)
    {
        Interrupted = false;
        Missing = null;
        // Generations whose frames were held for the restore may still turn up without their start for a while.
        FillFromStartUntil = time.GetTimestamp() + (long)(fillFromStartFor.TotalSeconds * time.TimestampFrequency);
        NotifyLocked(LiveFrame.Control(ConversationId,
            ServerFrames.Encode(new StreamRestoredFrame(ConversationId, unrecovered is null, unrecovered))));
    }

    /// <summary>The <c>stream.interrupted</c> frame, for a subscriber joining mid-outage.</summary>
    public LiveFrame InterruptedFrame() =>
        LiveFrame.Control(ConversationId, ServerFrames.Encode(new StreamInterruptedFrame(ConversationId)));

    private void NotifyLocked(LiveFrame control)
    {
        foreach (var subscription in Subscribers)
        {
            subscription.Notify(control);
        }
    }

    private void DeliverLocked(LiveFrame frame)
    {
        if (frame.IsTerminal)
        {
            LastSeq.Remove(frame.GenerationId);
            var finished = RecentlyFinished ??= [];
            if (finished.Count >= MaxRecentlyFinished)
            {
                finished.Clear();
            }
            finished.Add(frame.GenerationId);
        }
        else
        {
            if (LastSeq.Count >= MaxTrackedGenerations && !LastSeq.ContainsKey(frame.GenerationId))
            {
                LastSeq.Clear();
            }
            LastSeq[frame.GenerationId] = frame.Seq;
        }

        telemetry.FramesFannedOut.Add(1);
        foreach (var subscription in Subscribers)
        {
            subscription.Deliver(frame);
        }
    }
}
