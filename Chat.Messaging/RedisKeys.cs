using StackExchange.Redis;

namespace Chat.Messaging;

/// <summary>The one place that names every Redis key and channel Chat uses.</summary>
public static class RedisKeys
{
    /// <summary>Prefix of every key and channel, so Chat can share a Redis with other applications.</summary>
    public const string Prefix = "chat:";

    /// <summary>Pub/sub channel carrying the live frames of one conversation's generations.</summary>
    public static RedisChannel ConversationChannel(Guid conversationId) =>
        RedisChannel.Literal($"{Prefix}conv:{conversationId:N}");

    /// <summary>Stream holding one generation's frames for replay (bounded, expiring).</summary>
    public static RedisKey GenerationStream(Guid generationId) => $"{Prefix}gen:{generationId:N}:stream";

    /// <summary>Pub/sub channel on which any replica asks the one running a generation to cancel it.</summary>
    public static RedisChannel CancelChannel { get; } = RedisChannel.Literal($"{Prefix}cancel");
}
