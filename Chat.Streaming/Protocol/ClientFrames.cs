using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace Chat.Streaming.Protocol;

/// <summary>A client → server frame after validation. Only the members its <see cref="Type"/> needs are set.</summary>
public sealed record ClientFrame(string Type, string? Id)
{
    public Guid ConversationId { get; init; }
    public Guid? GenerationId { get; init; }
    public long? After { get; init; }
    public string? Content { get; init; }
    public string? ClientMessageId { get; init; }
    public string? Model { get; init; }
    public string? Provider { get; init; }
}

/// <summary>A frame the server could not accept, with the <c>error</c> frame's code and text.</summary>
public sealed record ClientFrameError(string? Id, string Code, string Message);

/// <summary>Parses and validates client frames; never throws on bad input.</summary>
public static class ClientFrameParser
{
    public const int MaxIdLength = 128;
    public const int MaxClientMessageIdLength = 128;
    public const int MaxModelLength = 100;

    public static bool TryParse(ReadOnlyMemory<byte> utf8, [NotNullWhen(true)] out ClientFrame? frame, [NotNullWhen(false)] out ClientFrameError? error)
    {
        frame = null;
        if (!TryParseDocument(utf8, out var document, out error))
        {
            return false;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = new ClientFrameError(null, ErrorCodes.InvalidFrame, "A frame is a JSON object.");
                return false;
            }
            if (!TryReadId(root, out var id, out error) || !TryReadType(root, id, out var type, out error))
            {
                return false;
            }
            var reader = new FieldReader(root, id);
            if (ReadFrame(type, id, reader) is not { } read)
            {
                error = new ClientFrameError(id, ErrorCodes.UnknownType, $"Unknown frame type '{Truncate(type)}'.");
                return false;
            }
            if ((reader.Error ?? CheckRules(read)) is { } problem)
            {
                error = problem;
                return false;
            }
            frame = read;
            error = null;
            return true;
        }
    }

    private static bool TryParseDocument(ReadOnlyMemory<byte> utf8, [NotNullWhen(true)] out JsonDocument? document, [NotNullWhen(false)] out ClientFrameError? error)
    {
        try
        {
            // Parsed in place: the document is disposed before TryParse returns, while the receive buffer is still ours.
            document = JsonDocument.Parse(utf8, new JsonDocumentOptions { MaxDepth = 16 });
            error = null;
            return true;
        }
        catch (JsonException)
        {
            document = null;
            error = new ClientFrameError(null, ErrorCodes.InvalidJson, "The frame is not valid JSON.");
            return false;
        }
    }

    /// <summary>The optional <c>id</c>: a string or a number (kept as written), echoed in replies.</summary>
    private static bool TryReadId(JsonElement root, out string? id, [NotNullWhen(false)] out ClientFrameError? error)
    {
        id = null;
        error = null;
        if (!root.TryGetProperty("id", out var element))
        {
            return true;
        }
        var valid = element.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.Null;
        id = element.ValueKind switch
        {
            JsonValueKind.String => element.GetString(),
            JsonValueKind.Number => element.GetRawText(),
            _ => null,
        };
        if (valid && !(id?.Length > MaxIdLength))
        {
            return true;
        }
        id = null;
        error = new ClientFrameError(null, ErrorCodes.InvalidFrame, $"'id' must be a string or number of at most {MaxIdLength} characters.");
        return false;
    }

    private static bool TryReadType(JsonElement root, string? id, out string type, [NotNullWhen(false)] out ClientFrameError? error)
    {
        if (root.TryGetProperty("type", out var element) && element.ValueKind == JsonValueKind.String)
        {
            type = element.GetString()!;
            error = null;
            return true;
        }
        type = "";
        error = new ClientFrameError(id, ErrorCodes.InvalidFrame, "'type' is required and must be a string.");
        return false;
    }

    /// <summary>The fields of each frame type; null for an unknown type. A field's problem is left in <paramref name="reader"/>.</summary>
    private static ClientFrame? ReadFrame(string type, string? id, FieldReader reader) => type switch
    {
        ClientFrameTypes.Ping => new ClientFrame(type, id),
        ClientFrameTypes.Subscribe => new ClientFrame(type, id)
        {
            ConversationId = reader.RequiredGuid("conversationId"),
            GenerationId = reader.OptionalGuid("generationId"),
            After = reader.OptionalSeq("after"),
        },
        ClientFrameTypes.Unsubscribe => new ClientFrame(type, id) { ConversationId = reader.RequiredGuid("conversationId") },
        ClientFrameTypes.MessageSend => new ClientFrame(type, id)
        {
            ConversationId = reader.RequiredGuid("conversationId"),
            Content = reader.RequiredString("content", maxLength: int.MaxValue),
            ClientMessageId = reader.RequiredString("clientMessageId", MaxClientMessageIdLength),
            Model = reader.OptionalString("model", MaxModelLength),
            Provider = reader.OptionalString("provider", MaxModelLength),
        },
        ClientFrameTypes.GenerationCancel => new ClientFrame(type, id) { GenerationId = reader.RequiredGuid("generationId") },
        _ => null,
    };

    /// <summary>Rules across fields, once each field is valid.</summary>
    private static ClientFrameError? CheckRules(ClientFrame frame) =>
        frame.Type == ClientFrameTypes.Subscribe && frame.After is not null && frame.GenerationId is null
            ? new ClientFrameError(frame.Id, ErrorCodes.InvalidFrame, "'after' needs 'generationId'.")
            : null;

    private static string Truncate(string value) => value.Length <= 40 ? value : value[..40] + "…";

    /// <summary>Reads fields and remembers the first problem, so one frame yields one precise error.</summary>
    private sealed class FieldReader(JsonElement root, string? id)
    {
        public ClientFrameError? Error { get; private set; }

        public Guid RequiredGuid(string name) => OptionalGuid(name) ?? Fail<Guid>(name, "is required");

        public Guid? OptionalGuid(string name)
        {
            if (!root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
            {
                return null;
            }
            return e.ValueKind == JsonValueKind.String && Guid.TryParse(e.GetString(), out var g) && g != Guid.Empty
                ? g
                : Fail<Guid?>(name, "must be a UUID string");
        }

        public long? OptionalSeq(string name)
        {
            if (!root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
            {
                return null;
            }
            return e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out var v) && v >= -1
                ? v
                : Fail<long?>(name, "must be an integer >= -1");
        }

        public string RequiredString(string name, int maxLength) =>
            OptionalString(name, maxLength) is { Length: > 0 } s && !string.IsNullOrWhiteSpace(s) ? s : Fail<string>(name, "is required");

        public string? OptionalString(string name, int maxLength)
        {
            if (!root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
            {
                return null;
            }
            if (e.ValueKind != JsonValueKind.String)
            {
                return Fail<string?>(name, "must be a string");
            }
            var s = e.GetString()!;
            return s.Length <= maxLength ? s : Fail<string?>(name, $"must be at most {maxLength} characters");
        }

        private T Fail<T>(string name, string problem)
        {
            Error ??= new ClientFrameError(id, ErrorCodes.InvalidFrame, $"'{name}' {problem}.");
            return default!;
        }
    }
}
