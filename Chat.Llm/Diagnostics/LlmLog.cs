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

    [LoggerMessage(EventId = 4011, Level = LogLevel.Warning, Message = "Could not renew the leases of {Count} generation(s); they go on until their leases run out")]
    public static partial void LeaseRenewalFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Warning, Message = "Generation {GenerationId}: its lease was taken over; it stops here without writing more")]
    public static partial void LeaseLost(ILogger logger, Guid generationId);

    [LoggerMessage(EventId = 4013, Level = LogLevel.Warning, Message = "Generation {GenerationId}: the final write failed ({Attempt} attempt(s)); retrying while the lease lasts")]
    public static partial void FinishRetrying(ILogger logger, Exception exception, Guid generationId, int attempt);

    [LoggerMessage(EventId = 4014, Level = LogLevel.Error, Message = "Generation {GenerationId}: the final write failed until the lease ran out; the sweeper will finish it from its stream")]
    public static partial void FinishHandedOver(ILogger logger, Guid generationId);

    [LoggerMessage(EventId = 4015, Level = LogLevel.Warning, Message = "Generation {GenerationId}: Redis did not take every frame within {WaitSeconds} s; the message is stored, the stream may be incomplete")]
    public static partial void FramesUnpublished(ILogger logger, Guid generationId, double waitSeconds);

    [LoggerMessage(EventId = 4016, Level = LogLevel.Warning, Message = "Swept generation {GenerationId} (conversation {ConversationId}): {Status} with {Chunks} chunk(s) kept")]
    public static partial void Swept(ILogger logger, Guid generationId, Guid conversationId, string status, long chunks);

    [LoggerMessage(EventId = 4017, Level = LogLevel.Warning, Message = "The sweep failed; it runs again in {IntervalSeconds} s")]
    public static partial void SweepFailed(ILogger logger, Exception exception, double intervalSeconds);

    [LoggerMessage(EventId = 4018, Level = LogLevel.Warning, Message = "Swept generation {GenerationId}: its frames could not be published (Redis); the message is stored")]
    public static partial void SweptUnpublished(ILogger logger, Exception exception, Guid generationId);
}
