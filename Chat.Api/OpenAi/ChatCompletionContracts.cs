using System.Text.Json;
using System.Text.Json.Serialization;

namespace Chat.Api.OpenAi;

// The OpenAI chat-completions wire shapes (the subset Chat serves on POST /v1/chat/completions and GET /v1/models).
// Property names are OpenAI's snake_case; serialize with OpenAiJson.

public sealed class ChatCompletionRequest
{
    [JsonPropertyName("model")] public string? Model { get; set; }
    [JsonPropertyName("messages")] public List<ChatCompletionMessage> Messages { get; set; } = [];
    [JsonPropertyName("stream")] public bool? Stream { get; set; }
    [JsonPropertyName("stream_options")] public StreamOptions? StreamOptions { get; set; }
    [JsonPropertyName("max_tokens")] public int? MaxTokens { get; set; }
    [JsonPropertyName("max_completion_tokens")] public int? MaxCompletionTokens { get; set; }
    [JsonPropertyName("temperature")] public float? Temperature { get; set; }
    [JsonPropertyName("top_p")] public float? TopP { get; set; }
    [JsonPropertyName("n")] public int? N { get; set; }
    [JsonPropertyName("user")] public string? User { get; set; }

    /// <summary>Unknown members (tools, response_format, …) are accepted and ignored.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }

    public int? EffectiveMaxTokens => MaxCompletionTokens ?? MaxTokens;
    public bool IncludeUsage => StreamOptions?.IncludeUsage == true;
}

public sealed class StreamOptions
{
    [JsonPropertyName("include_usage")] public bool IncludeUsage { get; set; }
}

public sealed class ChatCompletionMessage
{
    /// <summary><c>system</c>, <c>developer</c> (treated as system), <c>user</c> or <c>assistant</c>.</summary>
    [JsonPropertyName("role")] public string Role { get; set; } = "";

    /// <summary>A string, or (in requests) an array of parts whose <c>text</c> parts are joined.</summary>
    [JsonPropertyName("content")]
    [JsonConverter(typeof(ContentConverter))]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Content { get; set; }

    [JsonPropertyName("name")] public string? Name { get; set; }

    [JsonPropertyName("refusal")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Refusal { get; set; }
}

public sealed class ChatCompletionResponse
{
    [JsonPropertyName("id")] public required string Id { get; set; }
    [JsonPropertyName("object")] public string Object { get; set; } = "chat.completion";
    [JsonPropertyName("created")] public long Created { get; set; }
    [JsonPropertyName("model")] public required string Model { get; set; }
    [JsonPropertyName("choices")] public List<ChatCompletionChoice> Choices { get; set; } = [];
    [JsonPropertyName("usage")] public CompletionUsage? Usage { get; set; }
    [JsonPropertyName("system_fingerprint")] public string? SystemFingerprint { get; set; }
}

public sealed class ChatCompletionChoice
{
    [JsonPropertyName("index")] public int Index { get; set; }
    [JsonPropertyName("message")] public required ChatCompletionMessage Message { get; set; }

    [JsonPropertyName("finish_reason")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? FinishReason { get; set; }

    [JsonPropertyName("logprobs")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public object? Logprobs { get; set; }
}

public sealed class ChatCompletionChunk
{
    [JsonPropertyName("id")] public required string Id { get; set; }
    [JsonPropertyName("object")] public string Object { get; set; } = "chat.completion.chunk";
    [JsonPropertyName("created")] public long Created { get; set; }
    [JsonPropertyName("model")] public required string Model { get; set; }
    [JsonPropertyName("choices")] public List<ChatCompletionChunkChoice> Choices { get; set; } = [];

    /// <summary>Only on the extra last chunk when <c>stream_options.include_usage</c> (with empty <see cref="Choices"/>).</summary>
    [JsonPropertyName("usage")] public CompletionUsage? Usage { get; set; }
}

public sealed class ChatCompletionChunkChoice
{
    [JsonPropertyName("index")] public int Index { get; set; }
    [JsonPropertyName("delta")] public ChatCompletionDelta Delta { get; set; } = new();

    [JsonPropertyName("finish_reason")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? FinishReason { get; set; }

    [JsonPropertyName("logprobs")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public object? Logprobs { get; set; }
}

public sealed class ChatCompletionDelta
{
    [JsonPropertyName("role")] public string? Role { get; set; }
    [JsonPropertyName("content")] public string? Content { get; set; }
}

public sealed class CompletionUsage
{
    [JsonPropertyName("prompt_tokens")] public int PromptTokens { get; set; }
    [JsonPropertyName("completion_tokens")] public int CompletionTokens { get; set; }
    [JsonPropertyName("total_tokens")] public int TotalTokens { get; set; }
}

/// <summary>OpenAI's error body: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
public sealed class OpenAiErrorResponse
{
    [JsonPropertyName("error")] public required OpenAiError Error { get; set; }
}

public sealed class OpenAiError
{
    [JsonPropertyName("message")] public required string Message { get; set; }
    [JsonPropertyName("type")] public required string Type { get; set; }

    [JsonPropertyName("param")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Param { get; set; }

    [JsonPropertyName("code")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Code { get; set; }
}

public sealed class ModelList
{
    [JsonPropertyName("object")] public string Object { get; set; } = "list";
    [JsonPropertyName("data")] public List<ModelObject> Data { get; set; } = [];
}

public sealed class ModelObject
{
    [JsonPropertyName("id")] public required string Id { get; set; }
    [JsonPropertyName("object")] public string Object { get; set; } = "model";
    [JsonPropertyName("created")] public long Created { get; set; }
    [JsonPropertyName("owned_by")] public required string OwnedBy { get; set; }
}

/// <summary>Reads <c>content</c> as a string or an array of parts (text parts joined); writes a string.</summary>
internal sealed class ContentConverter : JsonConverter<string?>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return reader.GetString();
            case JsonTokenType.StartArray:
            {
                var parts = new List<string>();
                using var doc = JsonDocument.ParseValue(ref reader);
                foreach (var part in doc.RootElement.EnumerateArray())
                {
                    if (part.ValueKind == JsonValueKind.String)
                    {
                        parts.Add(part.GetString()!);
                    }
                    else if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
                    {
                        parts.Add(text.GetString()!);
                    }
                }

                return string.Join("\n", parts);
            }

            default:
                throw new JsonException("content must be a string or an array of content parts.");
        }
    }

    public override void Write(Utf8JsonWriter writer, string? value, JsonSerializerOptions options)
    {
        if (value is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            writer.WriteStringValue(value);
        }
    }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ChatCompletionRequest))]
[JsonSerializable(typeof(ChatCompletionResponse))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(OpenAiErrorResponse))]
[JsonSerializable(typeof(ModelList))]
public sealed partial class OpenAiJsonContext : JsonSerializerContext;
