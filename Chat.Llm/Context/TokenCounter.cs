using System.Collections.Concurrent;
using Chat.Llm.Providers;
using Microsoft.ML.Tokenizers;

namespace Chat.Llm.Context;

/// <summary>
/// Counts prompt tokens. OpenAI-family models are counted exactly with Microsoft.ML.Tokenizers, whose
/// <see cref="TiktokenTokenizer.CreateForModel(string, IReadOnlyDictionary{string, int}?, Normalizer?)"/> maps a model
/// name to its encoding (<c>o200k_base</c> for gpt-4o / gpt-4.1 / gpt-5 / o-series, <c>cl100k_base</c> for gpt-4 /
/// gpt-3.5). Models it does not know (Claude, Llama, Qwen, DeepSeek, an Azure deployment name, the local model) use the
/// documented <see cref="Estimate"/>: the <c>o200k_base</c> count plus 10 %, rounded up — BPE vocabularies of current
/// models are within that margin for English and code. A tokenizer is created once per name (encoding or model).
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

    /// <summary>The estimate's margin, in percent on top of the <c>o200k_base</c> count.</summary>
    public const int EstimateMarginPercent = 10;

    private static readonly ConcurrentDictionary<string, Tokenizer> s_tokenizers = new(StringComparer.Ordinal);

    /// <summary>The tokenizer a model is counted with: the configured encoding, else the model's own (an OpenAI-type
    /// provider's model that tiktoken knows), else <see cref="Estimate"/>.</summary>
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
        return type is ProviderTypes.OpenAI or ProviderTypes.AzureOpenAI && TryForModel(model) ? model : Estimate;
    }

    /// <summary>The tokenizer named by <see cref="ChooseTokenizer"/>: an encoding, <see cref="Estimate"/> (counted with
    /// <c>o200k_base</c>) or a model name tiktoken knows.</summary>
    public static Tokenizer Get(string tokenizerName) => s_tokenizers.GetOrAdd(tokenizerName == Estimate ? O200k : tokenizerName, static name =>
        name is O200k or Cl100k ? TiktokenTokenizer.CreateForEncoding(name) : TiktokenTokenizer.CreateForModel(name));

    /// <summary>Tokens of one piece of text under <paramref name="tokenizerName"/> (no message overhead).</summary>
    public static int CountText(string tokenizerName, string text)
    {
        if (text.Length == 0)
        {
            return 0;
        }

        var exact = Get(tokenizerName).CountTokens(text);
        // Integer arithmetic: 10 tokens estimate to 11, where 10 * 1.1 in floating point rounds up to 12.
        return tokenizerName == Estimate ? ((exact * (100 + EstimateMarginPercent)) + 99) / 100 : exact;
    }

    /// <summary>Tokens one chat message costs in a prompt.</summary>
    public static int CountMessage(string tokenizerName, string text) => CountText(tokenizerName, text) + PerMessageOverhead;

    private static bool TryForModel(string model)
    {
        try
        {
            Get(model);
            return true;
        }
        catch (NotSupportedException)
        {
            return false;
        }
    }
}
