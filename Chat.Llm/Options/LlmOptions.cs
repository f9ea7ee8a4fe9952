using System.ComponentModel.DataAnnotations;

namespace Chat.Llm.Options;

/// <summary>The <c>Llm</c> configuration section: providers, routing defaults, timeouts and retries. See docs/PROVIDERS.md.</summary>
public sealed class LlmOptions
{
    public const string SectionName = "Llm";

    /// <summary>Named providers (the name is what callers and conversations use as <c>provider</c>).</summary>
    public Dictionary<string, ProviderOptions> Providers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Provider used when neither the request nor the conversation names one. Defaults to the first usable
    /// configured provider, else <c>local</c>.</summary>
    public string? DefaultProvider { get; set; }

    /// <summary>Model used with the default provider. Defaults to that provider's first model.</summary>
    public string? DefaultModel { get; set; }

    /// <summary>Tried in order when the chosen route fails before its first token: <c>provider</c> or <c>provider/model</c>.</summary>
    public List<string> Fallback { get; set; } = [];

    /// <summary>Record prompt and reply text in telemetry (GenAI <c>EnableSensitiveData</c>). Off by default.</summary>
    public bool EnableSensitiveData { get; set; }

    /// <summary>The built-in development model (provider type <c>local</c>).</summary>
    public LocalModelOptions Local { get; set; } = new();

    public TimeoutOptions Timeouts { get; set; } = new();

    public RetryOptions Retry { get; set; } = new();

    public GenerationOptions Generation { get; set; } = new();
}

public sealed class ProviderOptions
{
    /// <summary><c>openai</c>, <c>azure-openai</c>, <c>anthropic</c>, <c>ollama</c>, <c>openai-compatible</c> or <c>local</c>.</summary>
    [Required]
    public string Type { get; set; } = "";

    /// <summary>Secret; a provider whose type needs a key and has none is not offered.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Base URL (openai-compatible, ollama, a proxy for openai/anthropic) or the Azure resource endpoint.</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>Set false to keep a configured provider out of routing.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Shown in the models listing.</summary>
    public string? DisplayName { get; set; }

    public List<ModelOptions> Models { get; set; } = [];
}

public sealed class ModelOptions
{
    /// <summary>The provider's model id (for azure-openai: the deployment name).</summary>
    [Required]
    public string Name { get; set; } = "";

    public List<string> Aliases { get; set; } = [];

    /// <summary>Total tokens the model accepts (prompt + output).</summary>
    [Range(256, 10_000_000)]
    public int ContextWindow { get; set; } = 8192;

    /// <summary>Tokens reserved for the reply (also sent as the max output tokens).</summary>
    [Range(1, 1_000_000)]
    public int MaxOutputTokens { get; set; } = 1024;

    /// <summary><c>o200k_base</c>, <c>cl100k_base</c> or <c>estimate</c>; by default chosen from the provider type and model name.</summary>
    public string? Tokenizer { get; set; }
}

public sealed class LocalModelOptions
{
    /// <summary>Offer the development model even when real providers are configured.</summary>
    public bool Enabled { get; set; } = true;

    [Range(0, 600_000)]
    public int TimeToFirstTokenMs { get; set; } = 200;

    [Range(0.1, 100_000)]
    public double TokensPerSecond { get; set; } = 50;

    /// <summary>Tokens (words with their trailing space) per streamed update.</summary>
    [Range(1, 10_000)]
    public int ChunkTokens { get; set; } = 1;

    /// <summary>The reply is padded with fixed text to at least this many tokens (benchmarks want long replies).</summary>
    [Range(0, 100_000)]
    public int MinReplyTokens { get; set; }

    [Range(256, 10_000_000)]
    public int ContextWindow { get; set; } = 32_768;

    [Range(1, 1_000_000)]
    public int MaxOutputTokens { get; set; } = 1024;
}

public sealed class TimeoutOptions
{
    /// <summary>Longest a whole generation may take.</summary>
    public TimeSpan Total { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Longest wait for the first text of one attempt (then the attempt is retried).</summary>
    public TimeSpan FirstToken { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Longest silence between two updates once the stream has started.</summary>
    public TimeSpan Idle { get; set; } = TimeSpan.FromSeconds(30);
}

public sealed class RetryOptions
{
    /// <summary>Retries of a transient failure (429, 5xx, connection error, first-token timeout) before the first text.</summary>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 2;

    /// <summary>First back-off; grows exponentially, with jitter, per retry up to <see cref="MaxDelay"/>. A provider's
    /// <c>Retry-After</c> (or <c>retry-after-ms</c>) replaces it.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest back-off; a provider asking (Retry-After) for a longer pause is not retried, so the call can fall
    /// back to another route at once.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(8);
}

public sealed class GenerationOptions
{
    /// <summary>Jobs waiting to run; when full, <c>TryEnqueue</c> refuses (the API answers 503) and <c>EnqueueAsync</c> waits.</summary>
    [Range(1, 100_000)]
    public int QueueCapacity { get; set; } = 256;

    /// <summary>Generations one process runs at once.</summary>
    [Range(1, 10_000)]
    public int MaxConcurrency { get; set; } = 64;

    /// <summary>How long a generation's replay stream outlives its last frame.</summary>
    public TimeSpan ReplayWindow { get; set; } = TimeSpan.FromMinutes(10);

    [Range(16, 10_000_000)]
    public int StreamMaxLength { get; set; } = 20_000;

    /// <summary>How long a generation stays owned by its process without a renewal; then any replica may sweep it.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often a process renews its generations' leases and checkpoints their text (a crash loses at most this much).</summary>
    public TimeSpan LeaseRenewInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often each process looks for generations whose lease has expired.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a finished generation waits for an unreachable Redis to return before it gives up publishing.</summary>
    public TimeSpan RedisWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Leases are renewed at least three times within their duration, and everything is positive.</summary>
    internal bool LeasesValid =>
        LeaseRenewInterval > TimeSpan.Zero && LeaseDuration >= 3 * LeaseRenewInterval
        && SweepInterval > TimeSpan.Zero && RedisWait >= TimeSpan.Zero;
}
