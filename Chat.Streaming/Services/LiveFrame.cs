namespace Chat.Streaming.Services;

/// <summary>
/// A generation frame as it travels inside one replica: parsed once from Redis (for routing and de-duplication) and
/// kept as the exact UTF-8 text published, which every socket receives unchanged.
/// </summary>
public sealed record LiveFrame(Guid ConversationId, Guid GenerationId, long Seq, bool IsTerminal, ReadOnlyMemory<byte> Utf8)
{
    /// <summary>A frame the replica writes itself about a conversation (<c>stream.*</c>): no generation, never de-duplicated.</summary>
    public static LiveFrame Control(Guid conversationId, ReadOnlyMemory<byte> utf8) => new(conversationId, Guid.Empty, -1, false, utf8);

    public bool IsControl => GenerationId == Guid.Empty;
}

/// <summary>Where a frame goes: one WebSocket connection's send queue.</summary>
public interface IFrameSink
{
    /// <summary>Queues a frame without waiting; false when the queue is full (the sink then closes itself as too slow).</summary>
    bool TryEnqueue(ReadOnlyMemory<byte> frame);

    /// <summary>Remembers that this connection has seen a generation of a conversation (so it may cancel it).</summary>
    void NoteGeneration(Guid generationId, Guid conversationId);

    /// <summary>A subscription overflowed its resume buffer: same policy as a full send queue.</summary>
    void Overflowed();
}

/// <summary>Identifies this process in frames and logs, so clients and tests can tell replicas apart.</summary>
public static class InstanceInfo
{
    public static string Id { get; } = $"{Environment.MachineName}:{Environment.ProcessId}";
}
