namespace Chat.Streaming.Protocol;

/// <summary>The WebSocket subprotocol and version this service speaks.</summary>
public static class ChatProtocol
{
    public const string SubProtocol = "chat.v1";
    public const string Version = "1";
}

/// <summary>The <c>type</c> of every client → server frame.</summary>
public static class ClientFrameTypes
{
    public const string Subscribe = "subscribe";
    public const string Unsubscribe = "unsubscribe";
    public const string MessageSend = "message.send";
    public const string GenerationCancel = "generation.cancel";
    public const string Ping = "ping";
}

/// <summary>The <c>type</c> of the server → client frames this service writes itself (generation frames come from Redis).</summary>
public static class ServerFrameTypes
{
    public const string Hello = "hello";
    public const string Subscribed = "subscribed";
    public const string Unsubscribed = "unsubscribed";
    public const string Ack = "ack";
    public const string Pong = "pong";
    public const string Heartbeat = "heartbeat";
    public const string Error = "error";

    /// <summary>This replica lost Redis: frames of the conversation may be delayed. Stay connected, resend nothing.</summary>
    public const string StreamInterrupted = "stream.interrupted";

    /// <summary>Redis is back and the conversation is caught up (<c>recovered</c>), or the listed generations must be reloaded.</summary>
    public const string StreamRestored = "stream.restored";
}

/// <summary>Stable <c>code</c> values of <c>error</c> frames.</summary>
public static class ErrorCodes
{
    public const string InvalidJson = "invalid_json";
    public const string InvalidFrame = "invalid_frame";
    public const string UnknownType = "unknown_type";
    public const string BinaryNotSupported = "binary_not_supported";
    public const string RateLimited = "rate_limited";
    public const string Unauthorized = "unauthorized";
    public const string TokenExpired = "token_expired";
    public const string Forbidden = "forbidden";
    public const string ConversationNotFound = "conversation_not_found";
    public const string GenerationNotFound = "generation_not_found";
    public const string NotSubscribed = "not_subscribed";
    public const string TooManySubscriptions = "too_many_subscriptions";
    public const string ValidationFailed = "validation_failed";
    public const string Conflict = "conflict";
    public const string ApiRateLimited = "api_rate_limited";
    public const string ApiUnavailable = "api_unavailable";
    public const string SlowConsumer = "slow_consumer";
    public const string ServerShuttingDown = "server_shutting_down";
    public const string Internal = "internal_error";
}

/// <summary>WebSocket close codes the server uses (1xxx from RFC 6455, 4xxx are Chat's).</summary>
public static class CloseCodes
{
    public const int Normal = 1000;
    public const int ProtocolError = 1002;
    public const int PolicyViolation = 1008;
    public const int MessageTooBig = 1009;
    public const int InternalError = 1011;
    public const int ServiceRestart = 1012;
    public const int SlowConsumer = 4008;
    public const int Unauthorized = 4401;
    public const int Forbidden = 4403;
}
