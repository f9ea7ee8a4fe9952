using System.Text.Json;

namespace Chat.Messaging.Contracts;

/// <summary>
/// The routing fields of a published <see cref="GenerationFrame"/> — type, conversation, generation, seq — read from its
/// UTF-8 JSON without materialising the rest (no delta string, no record). The streaming tier reads one per frame per
/// replica and forwards the original bytes, so this is the whole per-frame parsing cost of a fan-out.
/// </summary>
public readonly record struct GenerationFrameHeader(string Type, Guid ConversationId, Guid GenerationId, long Seq)
{
    public bool IsTerminal => Type is FrameTypes.Completed or FrameTypes.Failed or FrameTypes.Cancelled;

    /// <summary>False when <paramref name="utf8"/> is not a JSON object carrying all four fields with valid values.</summary>
    public static bool TryRead(ReadOnlySpan<byte> utf8, out GenerationFrameHeader header)
    {
        header = default;
        string? type = null;
        Guid? conversationId = null, generationId = null;
        long? seq = null;
        try
        {
            var reader = new Utf8JsonReader(utf8);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    type = reader.TokenType == JsonTokenType.String ? KnownType(ref reader) : null;
                }
                else if (reader.ValueTextEquals("conversationId"u8))
                {
                    reader.Read();
                    conversationId = reader.TokenType == JsonTokenType.String && reader.TryGetGuid(out var id) ? id : null;
                }
                else if (reader.ValueTextEquals("generationId"u8))
                {
                    reader.Read();
                    generationId = reader.TokenType == JsonTokenType.String && reader.TryGetGuid(out var id) ? id : null;
                }
                else if (reader.ValueTextEquals("seq"u8))
                {
                    reader.Read();
                    seq = reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var n) ? n : null;
                }
                else
                {
                    reader.Read();
                    reader.Skip(); // a value, or a whole nested object (usage)
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }
        if (type is null || conversationId is not { } conversation || generationId is not { } generation || seq is not { } s)
        {
            return false;
        }
        header = new GenerationFrameHeader(type, conversation, generation, s);
        return true;
    }

    // The frame types are a closed set: match them as bytes and hand out the interned constants (no allocation).
    private static string? KnownType(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("chunk"u8) ? FrameTypes.Chunk
        : reader.ValueTextEquals("generation.started"u8) ? FrameTypes.Started
        : reader.ValueTextEquals("generation.completed"u8) ? FrameTypes.Completed
        : reader.ValueTextEquals("generation.failed"u8) ? FrameTypes.Failed
        : reader.ValueTextEquals("generation.cancelled"u8) ? FrameTypes.Cancelled
        : reader.GetString();
}
