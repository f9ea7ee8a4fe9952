using System.Runtime.CompilerServices;
using System.Text;
using Chat.Llm.Options;
using Microsoft.Extensions.AI;

namespace Chat.Llm.Local;

/// <summary>
/// The built-in development model <c>chat-dev</c>: no network, no key. It streams a deterministic reply derived from
/// the last user message (quoted back plus fixed text), paced by <see cref="LocalModelOptions"/>: the first update
/// after <c>TimeToFirstTokenMs</c>, then tokens at <c>TokensPerSecond</c>, <c>ChunkTokens</c> per update. The schedule is
/// absolute (token i is due at ttft + i / rate), so pacing does not drift. Benchmarks use it.
/// </summary>
public sealed class LocalChatClient(LocalModelOptions settings, TimeProvider? timeProvider = null) : IChatClient
{
    public const string ModelName = "chat-dev";
    public const string ProviderType = "local";
    public const string Label = "[chat-dev: built-in development model, not a real LLM]";

    private const string Padding = "The quick brown fox jumps over the lazy dog while the development model keeps streaming text. ";
    private const int QuoteLimit = 200;

    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly ChatClientMetadata _metadata = new(ProviderType, null, ModelName);

    /// <summary>The tokens (words with their trailing space) of the reply to <paramref name="messages"/>.</summary>
    public IReadOnlyList<string> ReplyTokens(IEnumerable<ChatMessage> messages)
    {
        var last = messages.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? "";
        var quoted = string.Join(' ', last.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        if (quoted.Length > QuoteLimit)
        {
            quoted = string.Concat(quoted.AsSpan(0, QuoteLimit), "…");
        }

        var text = new StringBuilder()
            .Append(Label).Append(" You said: \"").Append(quoted).Append("\". ")
            .Append("This deterministic reply comes from the local provider; configure a provider key to talk to a real model.");
        var tokens = Tokenize(text.ToString());
        var padding = Tokenize(Padding);
        for (var i = 0; tokens.Count < settings.MinReplyTokens; i++)
        {
            if (i == 0)
            {
                tokens[^1] += " ";
            }

            tokens.Add(padding[i % padding.Count]);
        }

        return tokens;
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in GetStreamingResponseAsync(messages, options, cancellationToken))
        {
            updates.Add(update);
        }

        return updates.ToChatResponse();
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        var tokens = ReplyTokens(list);
        var max = options?.MaxOutputTokens ?? settings.MaxOutputTokens;
        var finish = ChatFinishReason.Stop;
        if (tokens.Count > max && settings.MinReplyTokens <= max)
        {
            tokens = tokens.Take(max).ToList();
            finish = ChatFinishReason.Length;
        }

        var responseId = $"chatdev-{Guid.CreateVersion7():N}";
        var start = _time.GetTimestamp();
        var chunk = settings.ChunkTokens;
        for (var i = 0; i < tokens.Count; i += chunk)
        {
            var n = Math.Min(chunk, tokens.Count - i);
            // The update carrying tokens [i, i + n) is due when its last token is: ttft + (i + n - 1) / rate.
            var dueMs = settings.TimeToFirstTokenMs + ((i + n - 1) * 1000.0 / settings.TokensPerSecond);
            var waitMs = dueMs - _time.GetElapsedTime(start).TotalMilliseconds;
            if (waitMs > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(waitMs), _time, cancellationToken);
            }

            cancellationToken.ThrowIfCancellationRequested();
            yield return new ChatResponseUpdate(ChatRole.Assistant, string.Concat(tokens.Skip(i).Take(n)))
            {
                ResponseId = responseId,
                MessageId = responseId,
                ModelId = ModelName,
                CreatedAt = _time.GetUtcNow(),
            };
        }

        var promptTokens = list.Sum(m => EstimateTokens(m.Text)) + (list.Count * 4) + 3;
        yield return new ChatResponseUpdate
        {
            Role = ChatRole.Assistant,
            ResponseId = responseId,
            MessageId = responseId,
            ModelId = ModelName,
            FinishReason = finish,
            Contents = [new UsageContent(new UsageDetails { InputTokenCount = promptTokens, OutputTokenCount = tokens.Count, TotalTokenCount = promptTokens + tokens.Count })],
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
    }

    private static int EstimateTokens(string text) => (text.Length + 3) / 4;

    private static List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == ' ')
            {
                tokens.Add(text[start..(i + 1)]);
                start = i + 1;
            }
        }

        if (start < text.Length)
        {
            tokens.Add(text[start..]);
        }

        return tokens;
    }
}
