using System.Text.Json;
using System.Text.Json.Serialization;

namespace Chat.Messaging.Contracts;

/// <summary>
/// One frame of a generation, as published to Redis by Chat.Api and forwarded to WebSocket clients by
/// Chat.Streaming <em>unchanged</em> (the JSON text on Redis is the text of the server → client frame).
/// Every frame of a generation carries <see cref="Seq"/>: <c>generation.started</c> is 0, chunks are 1..n in order,
/// and the terminal frame (<c>generation.completed</c> / <c>failed</c> / <c>cancelled</c>) is n + 1.
/// See docs/STREAMING.md.
/// </summary>
public sealed record GenerationFrame
{
    [JsonPropertyName("type")]
    public required string Type { get; init; }

    [JsonPropertyName("conversationId")]
    public required Guid ConversationId { get; init; }

    [JsonPropertyName("generationId")]
    public required Guid GenerationId { get; init; }

    [JsonPropertyName("seq")]
    public required long Seq { get; init; }

    /// <summary>The assistant message the generation writes (started, completed, failed, cancelled).</summary>
    [JsonPropertyName("messageId")]
    public Guid? MessageId { get; init; }

    /// <summary>The text a chunk adds.</summary>
    [JsonPropertyName("delta")]
    public string? Delta { get; init; }

    [JsonPropertyName("model")]
    public string? Model { get; init; }

    [JsonPropertyName("provider")]
    public string? Provider { get; init; }

    [JsonPropertyName("finishReason")]
    public string? FinishReason { get; init; }

    [JsonPropertyName("usage")]
    public FrameUsage? Usage { get; init; }

    /// <summary>Machine-readable error code of <c>generation.failed</c>.</summary>
    [JsonPropertyName("code")]
    public string? Code { get; init; }

    /// <summary>Human-readable error of <c>generation.failed</c> (never exception text).</summary>
    [JsonPropertyName("message")]
    public string? Message { get; init; }

    /// <summary>Whether this frame ends its generation. Not part of the frame's JSON.</summary>
    [JsonIgnore]
    public bool IsTerminal => Type is FrameTypes.Completed or FrameTypes.Failed or FrameTypes.Cancelled;

    public string ToJson() => JsonSerializer.Serialize(this, MessagingJsonContext.Default.GenerationFrame);

    public static GenerationFrame? FromJson(string json) =>
        JsonSerializer.Deserialize(json, MessagingJsonContext.Default.GenerationFrame);

    public static GenerationFrame? FromJson(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, MessagingJsonContext.Default.GenerationFrame);
}

public sealed record FrameUsage(
    [property: JsonPropertyName("promptTokens")] int? PromptTokens,
    [property: JsonPropertyName("completionTokens")] int? CompletionTokens,
    [property: JsonPropertyName("totalTokens")] int? TotalTokens);

/// <summary>The <c>type</c> values of generation frames.</summary>
public static class FrameTypes
{
    public const string Started = "generation.started";
    public const string Chunk = "chunk";
    public const string Completed = "generation.completed";
    public const string Failed = "generation.failed";
    public const string Cancelled = "generation.cancelled";
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(GenerationFrame))]
internal sealed partial class MessagingJsonContext : JsonSerializerContext;
