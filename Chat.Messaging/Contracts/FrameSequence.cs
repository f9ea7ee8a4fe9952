namespace Chat.Messaging.Contracts;

/// <summary>Where a frame stands against the last seq passed on for its generation.</summary>
public enum SeqPosition
{
    /// <summary>At or before the last seq: already passed on (a replay overlap or a duplicate publication).</summary>
    Duplicate,

    /// <summary>The seq right after the last: pass it on.</summary>
    Next,

    /// <summary>Later than the next seq: frames are missing before it and must be read from the generation's stream first.</summary>
    Gap,
}

/// <summary>
/// The ordering rule every follower of a generation applies to its frames (SSE's <see cref="GenerationStreamReader"/>,
/// the streaming tier's conversation topics and subscriptions): seqs are consecutive from 0, so a frame is a duplicate, the
/// next one, or after a gap that the replay stream fills (it holds every frame up to one seen live: XADD precedes PUBLISH).
/// </summary>
public static class FrameSequence
{
    /// <summary>True when <paramref name="seq"/> was passed on already (the fan-out's per-frame check).</summary>
    public static bool IsDuplicate(long lastSeq, long seq) => seq <= lastSeq;

    public static SeqPosition Place(long lastSeq, long seq) =>
        IsDuplicate(lastSeq, seq) ? SeqPosition.Duplicate : seq == lastSeq + 1 ? SeqPosition.Next : SeqPosition.Gap;
}
