namespace Chat.Llm;

/// <summary>A failure of the LLM layer with a stable, machine-readable <see cref="Code"/> (see <see cref="LlmErrorCodes"/>).
/// <see cref="Exception.Message"/> is safe to show a client: it never carries upstream exception text.</summary>
public sealed class LlmException : Exception
{
    public LlmException(string code, string message, Exception? innerException = null, bool isTransient = false)
        : base(message, innerException)
    {
        Code = code;
        IsTransient = isTransient;
    }

    public LlmException()
        : this(LlmErrorCodes.UpstreamError, "The model provider failed.")
    {
    }

    public LlmException(string message)
        : this(LlmErrorCodes.UpstreamError, message)
    {
    }

    public LlmException(string message, Exception innerException)
        : this(LlmErrorCodes.UpstreamError, message, innerException)
    {
    }

    public string Code { get; }

    /// <summary>Worth retrying (or falling back) when no token has been produced yet.</summary>
    public bool IsTransient { get; }

    /// <summary>The upstream HTTP status, when there was one.</summary>
    public int? UpstreamStatus { get; init; }

    /// <summary>The pause the provider asked for before a retry (its <c>Retry-After</c>), when it sent one.</summary>
    public TimeSpan? RetryAfter { get; init; }
}

/// <summary>The stable error codes of generations (frames, persisted messages, problem details).</summary>
public static class LlmErrorCodes
{
    public const string RateLimited = "upstream_rate_limited";
    public const string UpstreamUnavailable = "upstream_unavailable";
    public const string UpstreamError = "upstream_error";
    public const string UpstreamRejected = "upstream_rejected";
    public const string FirstTokenTimeout = "upstream_first_token_timeout";
    public const string IdleTimeout = "upstream_idle_timeout";
    public const string TotalTimeout = "generation_timeout";
    public const string StreamInterrupted = "upstream_stream_interrupted";
    public const string ModelNotFound = "model_not_found";
    public const string ProviderNotFound = "provider_not_found";
    public const string AllProvidersFailed = "all_providers_failed";
    public const string ContextTooLarge = "context_length_exceeded";
    public const string ServerShutdown = "server_shutdown";

    /// <summary>The process running the generation died or lost its lease; another replica ended it with the text that survived.</summary>
    public const string Interrupted = "interrupted";
}
