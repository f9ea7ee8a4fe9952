namespace Chat.Messaging.Contracts;

/// <summary>
/// Retention of a generation's replay stream (<see cref="RedisKeys.GenerationStream"/>): entries have the explicit
/// Redis stream id <c>{seq}-1</c>, so <c>XRANGE key {after+1}-0 +</c> returns exactly the frames after <c>after</c>.
/// </summary>
public static class GenerationStreamSettings
{
    /// <summary>The field of a stream entry holding the frame's JSON.</summary>
    public const string FrameField = "f";

    /// <summary>How long a generation's stream outlives its last write (the replay window).</summary>
    public static readonly TimeSpan DefaultReplayWindow = TimeSpan.FromMinutes(10);

    /// <summary>Approximate cap on entries per generation stream (a generation longer than this loses its oldest replay).</summary>
    public const int DefaultMaxLength = 20_000;

    public static string EntryId(long seq) => $"{seq}-1";

    public static string RangeStartAfter(long after) => $"{after + 1}-0";
}
