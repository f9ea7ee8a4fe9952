using Chat.Llm.Diagnostics;
using Chat.Messaging;
using Chat.Messaging.Contracts;

namespace Chat.Llm.Generation;

/// <summary>
/// What a <see cref="FrameOutlet"/> knows about the frames it kept: the <see cref="FrameJournal"/> and how far each frame
/// got in Redis. Shared by the live path and <see cref="FrameRecovery"/>; everything but <see cref="Superseded"/> is
/// read and written under <see cref="Gate"/>.
/// </summary>
/// <remarks>Positions, not seqs: frames 0..<see cref="Written"/>-1 are known to be in the stream, 0..<see cref="Published"/>-1
/// known published, 0..<see cref="Attempted"/>-1 had an XADD issued at least once.</remarks>
internal sealed class FrameLedger(int capacity, GenerationMetrics? metrics)
{
    private volatile bool _superseded;
    private long _counted;

    public Lock Gate { get; } = new();

    public FrameJournal Journal { get; } = new(capacity);

    public Guid GenerationId { get; private set; }

    public Guid ConversationId { get; private set; }

    public long LastSeq { get; private set; } = -1;

    public long Written { get; set; }

    public long Published { get; set; }

    public long Attempted { get; set; }

    /// <summary>False while Redis is away: frames are only kept until a recovery catches the stream up.</summary>
    public bool Live { get; set; } = true;

    /// <summary>Another process wrote this generation's stream beyond what we sent (see <see cref="FrameOutlet"/>'s rule).</summary>
    public bool Superseded
    {
        get => _superseded;
        set => _superseded = value;
    }

    /// <summary>Every frame kept is in the stream and published.</summary>
    public bool CaughtUp => Written == Journal.End && Published == Journal.End;

    /// <summary>Frames kept that wait for Redis.</summary>
    public int Buffered => Live || Superseded ? 0 : (int)(Journal.End - Written);

    /// <summary>Keeps <paramref name="frame"/> and returns its position, or -1 when superseded (nothing more is kept).
    /// Throws when its seq does not increase.</summary>
    public long Add(GenerationFrame frame, string json)
    {
        if (frame.Seq <= LastSeq)
        {
            throw new ArgumentException($"Frame seq {frame.Seq} after {LastSeq}: seqs must increase.", nameof(frame));
        }

        LastSeq = frame.Seq;
        if (Journal.End == 0)
        {
            GenerationId = frame.GenerationId;
            ConversationId = frame.ConversationId;
        }

        if (Superseded)
        {
            return -1;
        }

        var position = Journal.End;
        Journal.Add(frame.Seq, json);
        return position;
    }

    /// <summary>Counts the frames kept since the last count (or since the last known written) as buffered.</summary>
    public void CountBuffered()
    {
        var from = Math.Max(Written, _counted);
        if (Journal.End > from)
        {
            metrics?.FramesBuffered.Add(Journal.End - from);
            _counted = Journal.End;
        }
    }

    /// <summary>Frames dropped from the journal (an outage longer than the bound) are given up.</summary>
    public void SkipLost()
    {
        Written = Math.Max(Written, Journal.First);
        Published = Math.Max(Published, Journal.First);
    }

    /// <summary>
    /// Decides where a recovery starts from the stream's ends: sets <see cref="Superseded"/>, or <see cref="Written"/> to
    /// the first frame the stream misses; true when the stream must be re-created from the oldest frame kept.
    /// </summary>
    public bool Reconcile(StreamEnds? ends)
    {
        SkipLost();
        if (ends is not { } stream)
        {
            Written = Journal.First;
            return true;
        }

        var at = Journal.PositionOf(stream.LastSeq);
        if (stream.LastSeq > LastSeq
            || (at >= 0 && !string.Equals(Journal[at].Json, stream.LastJson, StringComparison.Ordinal))
            || (at < 0 && Journal.End > Journal.First && stream.LastSeq >= Journal[Journal.First].Seq))
        {
            // Beyond our last frame, different from ours at that seq, or at a seq we never sent.
            Superseded = true;
            return false;
        }

        if (Journal.End > Journal.First && stream.FirstSeq > Journal[Journal.First].Seq)
        {
            // It lost frames we still hold (Redis restarted empty, then a late write of ours landed): start it again.
            Written = Journal.First;
            return true;
        }

        // Everything up to its last entry is there (ours, in order); ours in flight when Redis went away may be among it.
        Written = Math.Max(Journal.First, Journal.PositionAfter(stream.LastSeq));
        return false;
    }
}
