using System.Text.Json;
using System.Text.Json.Serialization;

namespace Chat.Streaming.Protocol;

public sealed record HelloFrame(
    [property: JsonPropertyName("protocol")] string Protocol,
    [property: JsonPropertyName("service")] string Service,
    [property: JsonPropertyName("instance")] string Instance,
    [property: JsonPropertyName("heartbeatSeconds")] double HeartbeatSeconds,
    [property: JsonPropertyName("maxFrameBytes")] int MaxFrameBytes)
{
    [JsonPropertyName("type")] public string Type => ServerFrameTypes.Hello;
}

public sealed record SubscribedFrame(
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("conversationId")] Guid ConversationId,
    [property: JsonPropertyName("generationId")] Guid? GenerationId,
    [property: JsonPropertyName("recovered")] bool Recovered,
    [property: JsonPropertyName("replayed")] int Replayed,
    [property: JsonPropertyName("instance")] string Instance)
{
    [JsonPropertyName("type")] public string Type => ServerFrameTypes.Subscribed;
}

public sealed record UnsubscribedFrame(
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("conversationId")] Guid ConversationId)
{
    [JsonPropertyName("type")] public string Type => ServerFrameTypes.Unsubscribed;
}

public sealed record AckFrame(
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("conversationId")] Guid ConversationId,
    [property: JsonPropertyName("messageId")] Guid? MessageId,
    [property: JsonPropertyName("generationId")] Guid? GenerationId,
    [property: JsonPropertyName("assistantMessageId")] Guid? AssistantMessageId)
{
    [JsonPropertyName("type")] public string Type => ServerFrameTypes.Ack;
}

public sealed record PongFrame([property: JsonPropertyName("id")] string? Id)
{
    [JsonPropertyName("type")] public string Type => ServerFrameTypes.Pong;
}

public sealed record HeartbeatFrame([property: JsonPropertyName("ts")] long UnixMilliseconds)
{
    [JsonPropertyName("type")] public string Type => ServerFrameTypes.Heartbeat;
}

public sealed record ErrorFrame(
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("code")] string Code,
    [property: JsonPropertyName("message")] string Message)
{
    [JsonPropertyName("type")] public string Type => ServerFrameTypes.Error;

    /// <summary>Set on errors about one conversation (subscribe, message.send).</summary>
    [JsonPropertyName("conversationId")] public Guid? ConversationId { get; init; }

    /// <summary>Set on errors about one generation (generation.cancel).</summary>
    [JsonPropertyName("generationId")] public Guid? GenerationId { get; init; }
}

/// <summary>Sent once per subscription when the replica loses its Redis subscription (docs/PROTOCOL.md, "When Redis goes away").</summary>
public sealed record StreamInterruptedFrame([property: JsonPropertyName("conversationId")] Guid ConversationId)
{
    [JsonPropertyName("type")] public string Type => ServerFrameTypes.StreamInterrupted;
}

/// <summary>
/// Ends an interruption. <see cref="Recovered"/>: every frame published meanwhile has been delivered. Otherwise
/// <see cref="GenerationIds"/> lists the generations whose frames could not be recovered: reload their messages over REST.
/// </summary>
public sealed record StreamRestoredFrame(
    [property: JsonPropertyName("conversationId")] Guid ConversationId,
    [property: JsonPropertyName("recovered")] bool Recovered,
    [property: JsonPropertyName("generationIds")] IReadOnlyList<Guid>? GenerationIds)
{
    [JsonPropertyName("type")] public string Type => ServerFrameTypes.StreamRestored;
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(HelloFrame))]
[JsonSerializable(typeof(SubscribedFrame))]
[JsonSerializable(typeof(UnsubscribedFrame))]
[JsonSerializable(typeof(AckFrame))]
[JsonSerializable(typeof(PongFrame))]
[JsonSerializable(typeof(HeartbeatFrame))]
[JsonSerializable(typeof(ErrorFrame))]
[JsonSerializable(typeof(StreamInterruptedFrame))]
[JsonSerializable(typeof(StreamRestoredFrame))]
internal sealed partial class ServerFrameJsonContext : JsonSerializerContext;

/// <summary>Serializes the frames this service writes itself, straight to UTF-8.</summary>
internal static class ServerFrames
{
    public static ReadOnlyMemory<byte> Encode(HelloFrame f) => JsonSerializer.SerializeToUtf8Bytes(f, ServerFrameJsonContext.Default.HelloFrame);
    public static ReadOnlyMemory<byte> Encode(SubscribedFrame f) => JsonSerializer.SerializeToUtf8Bytes(f, ServerFrameJsonContext.Default.SubscribedFrame);
    public static ReadOnlyMemory<byte> Encode(UnsubscribedFrame f) => JsonSerializer.SerializeToUtf8Bytes(f, ServerFrameJsonContext.Default.UnsubscribedFrame);
    public static ReadOnlyMemory<byte> Encode(AckFrame f) => JsonSerializer.SerializeToUtf8Bytes(f, ServerFrameJsonContext.Default.AckFrame);
    public static ReadOnlyMemory<byte> Encode(PongFrame f) => JsonSerializer.SerializeToUtf8Bytes(f, ServerFrameJsonContext.Default.PongFrame);
    public static ReadOnlyMemory<byte> Encode(HeartbeatFrame f) => JsonSerializer.SerializeToUtf8Bytes(f, ServerFrameJsonContext.Default.HeartbeatFrame);
    public static ReadOnlyMemory<byte> Encode(ErrorFrame f) => JsonSerializer.SerializeToUtf8Bytes(f, ServerFrameJsonContext.Default.ErrorFrame);
    public static ReadOnlyMemory<byte> Encode(StreamInterruptedFrame f) => JsonSerializer.SerializeToUtf8Bytes(f, ServerFrameJsonContext.Default.StreamInterruptedFrame);
    public static ReadOnlyMemory<byte> Encode(StreamRestoredFrame f) => JsonSerializer.SerializeToUtf8Bytes(f, ServerFrameJsonContext.Default.StreamRestoredFrame);
}
