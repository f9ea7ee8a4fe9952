using Microsoft.Extensions.Logging;

namespace Chat.Llm.Diagnostics;

internal static partial class LlmLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Provider {Provider} failed transiently ({Code}); retry {Attempt} in {DelayMs} ms")]
    public static partial void RetryingProviderCall(ILogger logger, string provider, string code, int attempt, double delayMs);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Provider {Provider} failed ({Code}) after {Attempts} attempt(s)")]
    public static partial void ProviderCallFailed(ILogger logger, string provider, string code, int attempts);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Generation {GenerationId}: {Provider}/{Model} failed before its first token ({Code}); trying the next route")]
    public static partial void FallingBack(ILogger logger, Guid generationId, string provider, string model, string code);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "Generation {GenerationId} ended {Status} via {Provider}/{Model}: {ChunkCount} chunks, ttft {TtftMs} ms, {DurationMs} ms")]
    public static partial void GenerationEnded(ILogger logger, Guid generationId, string status, string? provider, string? model, long chunkCount, int? ttftMs, int durationMs);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Error, Message = "Generation {GenerationId} failed ({Code})")]
    public static partial void GenerationFailed(ILogger logger, Exception exception, Guid generationId, string code);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Error, Message = "Generation {GenerationId}: the store or Redis failed while finishing")]
    public static partial void FinishFailed(ILogger logger, Exception exception, Guid generationId);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Information, Message = "Cancel requested for generation {GenerationId}; running here: {RunningHere}")]
    public static partial void CancelReceived(ILogger logger, Guid generationId, bool runningHere);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Error, Message = "Generation worker crashed on job {GenerationId}")]
    public static partial void WorkerCrashed(ILogger logger, Exception exception, Guid generationId);

    [LoggerMessage(EventId = 4009, Level = LogLevel.Information, Message = "LLM providers: {Providers}; default {Provider}/{Model}")]
    public static partial void ProvidersConfigured(ILogger logger, string providers, string provider, string model);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Information, Message = "Generation {GenerationId} dropped: its messages were not stored")]
    public static partial void NotStored(ILogger logger, Guid generationId);
}
