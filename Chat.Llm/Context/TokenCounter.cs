using System.Collections.Concurrent;
using Chat.Llm.Providers;
using Microsoft.ML.Tokenizers;

namespace Chat.Llm.Context;

/// <summary>
/// Counts prompt tokens. OpenAI-family models are counted exactly with Microsoft.ML.Tokenizers (<c>o200k_base</c> for
/// gpt-4o / gpt-4.1 / gpt-5 / o-series, <c>cl100k_base</c> for gpt-4 / gpt-3.5). Other models (Claude, Llama, Qwen,
/// DeepSeek, the local model) use the documented <see cref="Estimate"/>: the <c>o200k_base</c> count plus 10 %, rounded up
/// — BPE vocabularies of current models are within that margin for English and code.
/// A chat message costs <see cref="PerMessageOverhead"/> tokens on top of its text, and a prompt
/// <see cref="PerPromptOverhead"/> more (the reply priming), as OpenAI documents for its chat format.
/// </summary>
public static class TokenCounter
{
    public const string O200k = "o200k_base";
    public const string Cl100k = "cl100k_base";
    public const string Estimate = "estimate";
    public const int PerMessageOverhead = 4;
    public const int PerPromptOverhead = 3;
    public const double EstimateMargin = 1.10;

    private static readonly ConcurrentDictionary<string, Tokenizer> s_tokenizers = new(StringComparer.Ordinal);

    /// <summary>The tokenizer a model is counted with: the configured one, else by provider type and model name.</summary>
    public static string ChooseTokenizer(string providerType, string model, string? configured)
    {
        if (configured is O200k or Cl100k or Estimate)
        {
            return configured;
        }

        if (configured is not null)
        {
            throw new InvalidOperationException($"Unknown tokenizer '{configured}' for model '{model}'; use {O200k}, {Cl100k} or {Estimate}.");
        }

        var type = providerType.ToLowerInvariant();
        if (type is not (ProviderTypes.OpenAI or ProviderTypes.AzureOpenAI))
        {
            return Estimate;
        }

        var m = model.ToLowerInvariant();
        return m.StartsWith("gpt-4-", StringComparison.Ordinal) || m == "gpt-4" || m.StartsWith("gpt-3.5", StringComparison.Ordinal)
            ? Cl100k
            : O200k;
    }

    public static Tokenizer Get(string encoding) =>
        s_tokenizers.GetOrAdd(encoding == Estimate ? O200k : encoding, e => TiktokenTokenizer.CreateForEncoding(e));

    /// <summary>Tokens of one piece of text under <paramref name="tokenizerName"/> (no message overhead).</summary>
    public static int CountText(string tokenizerName, string text)
    {
        if (text.Length == 0)
        {
            return 0;
        }

        var exact = Get(tokenizerName).CountTokens(text);
        return tokenizerName == Estimate ? (int)Math.Ceiling(exact * EstimateMargin) : exact;
    }

    /// <summary>Tokens one chat message costs in a prompt.</summary>
    public static int CountMessage(string tokenizerName, string text) => CountText(tokenizerName, text) + PerMessageOverhead;
}
