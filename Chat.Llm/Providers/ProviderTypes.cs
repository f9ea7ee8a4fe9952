namespace Chat.Llm.Providers;

/// <summary>The <c>Type</c> values of a configured provider.</summary>
public static class ProviderTypes
{
    public const string OpenAI = "openai";
    public const string AzureOpenAI = "azure-openai";
    public const string Anthropic = "anthropic";
    public const string Ollama = "ollama";
    public const string OpenAICompatible = "openai-compatible";
    public const string Local = "local";

    public static IReadOnlyList<string> All { get; } = [OpenAI, AzureOpenAI, Anthropic, Ollama, OpenAICompatible, Local];
}

/// <summary>One model a provider serves, as configured (or implied for <c>local</c>).</summary>
public sealed record ModelDescriptor(
    string Provider,
    string ProviderType,
    string Name,
    IReadOnlyList<string> Aliases,
    int ContextWindow,
    int MaxOutputTokens,
    string TokenizerName)
{
    public string Id => $"{Provider}/{Name}";
}

/// <summary>One entry of the models listing (<c>GET /api/v1/models</c>, <c>GET /v1/models</c>).</summary>
public sealed record ModelListing(
    string Id,
    string Model,
    string Provider,
    string ProviderType,
    IReadOnlyList<string> Aliases,
    int ContextWindow,
    int MaxOutputTokens,
    bool IsDefault,
    string? Description);
