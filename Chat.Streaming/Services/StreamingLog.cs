namespace Chat.Streaming.Services;

internal static partial class StreamingLog
{
    [LoggerMessage(1, LogLevel.Debug, "Connection {ConnectionId} of {TenantId}/{UserId} opened on {Instance}")]
    public static partial void ConnectionOpened(ILogger logger, string connectionId, string tenantId, string userId, string instance);

    [LoggerMessage(2, LogLevel.Debug, "Connection {ConnectionId} closed: {CloseCode} {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, string connectionId, int closeCode, string reason);

    [LoggerMessage(3, LogLevel.Information, "Connection {ConnectionId} is too slow: its send queue of {Capacity} frames overflowed; closing with 4008")]
    public static partial void SlowConsumer(ILogger logger, string connectionId, int capacity);

    [LoggerMessage(4, LogLevel.Information, "Connection {ConnectionId} flooded ({Violations} frames over the rate limit); closing with 1008")]
    public static partial void Flood(ILogger logger, string connectionId, int violations);

    [LoggerMessage(5, LogLevel.Debug, "Subscribed to Redis channel of conversation {ConversationId}")]
    public static partial void ChannelSubscribed(ILogger logger, Guid conversationId);

    [LoggerMessage(6, LogLevel.Debug, "Unsubscribed from Redis channel of conversation {ConversationId}")]
    public static partial void ChannelUnsubscribed(ILogger logger, Guid conversationId);

    [LoggerMessage(7, LogLevel.Warning, "Dropped a malformed generation frame on conversation {ConversationId}")]
    public static partial void MalformedRedisFrame(ILogger logger, Guid conversationId);

    [LoggerMessage(8, LogLevel.Warning, "Chat.Api answered {StatusCode} to {Operation}")]
    public static partial void ApiUnexpected(ILogger logger, string operation, int statusCode);

    [LoggerMessage(9, LogLevel.Warning, "Chat.Api could not be reached for {Operation}")]
    public static partial void ApiUnreachable(ILogger logger, Exception exception, string operation);

    [LoggerMessage(10, LogLevel.Error, "Connection {ConnectionId} failed")]
    public static partial void ConnectionFailed(ILogger logger, Exception exception, string connectionId);

    [LoggerMessage(11, LogLevel.Information, "Shutting down: closing {Count} WebSocket connections with 1012")]
    public static partial void ShuttingDown(ILogger logger, int count);

    [LoggerMessage(12, LogLevel.Warning, "Replay of generation {GenerationId} failed")]
    public static partial void ReplayFailed(ILogger logger, Exception exception, Guid generationId);

    [LoggerMessage(13, LogLevel.Warning, "Gap in generation {GenerationId} on conversation {ConversationId}: expected seq {Expected}, got {Seq}; filling from the replay stream")]
    public static partial void GapDetected(ILogger logger, Guid generationId, Guid conversationId, long expected, long seq);

    [LoggerMessage(14, LogLevel.Warning, "Lost the Redis subscription connection ({FailureType}); told the sockets of {Count} conversations that frames may be delayed")]
    public static partial void RedisInterrupted(ILogger logger, string failureType, int count);

    [LoggerMessage(15, LogLevel.Information, "The Redis subscription connection is back; catching up {Count} conversations from the generation streams")]
    public static partial void RedisRestored(ILogger logger, int count);

    [LoggerMessage(16, LogLevel.Warning, "Restoring the conversations after a Redis outage failed; a later reconnect retries")]
    public static partial void RestoreFailed(ILogger logger, Exception exception);

    [LoggerMessage(17, LogLevel.Warning, "Conversation {ConversationId}: {Count} generations could not be recovered after the Redis outage; told the sockets to reload them")]
    public static partial void TopicNotRecovered(ILogger logger, Guid conversationId, int count);
}
