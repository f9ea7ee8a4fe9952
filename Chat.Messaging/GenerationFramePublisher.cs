using Chat.Messaging.Contracts;
using StackExchange.Redis;

namespace Chat.Messaging;

/// <summary>
/// Writes a generation's frames per docs/STREAMING.md: each frame is XADDed to <see cref="RedisKeys.GenerationStream"/>
/// with the explicit id <see cref="GenerationStreamSettings.EntryId"/>(seq) (MAXLEN ~ bounded, EXPIRE reset to the replay
/// window) and then PUBLISHed on <see cref="RedisKeys.ConversationChannel"/>. The three commands go down one connection in
/// that order, so a subscriber that sees frame n on pub/sub finds frames 0..n in the stream.
/// </summary>
public sealed class GenerationFramePublisher(IConnectionMultiplexer redis)
{
    public async Task PublishAsync(GenerationFrame frame, TimeSpan replayWindow, int maxLength = GenerationStreamSettings.DefaultMaxLength)
    {
        var db = redis.GetDatabase();
        var json = frame.ToJson();
        var key = RedisKeys.GenerationStream(frame.GenerationId);
        var add = db.StreamAddAsync(key, GenerationStreamSettings.FrameField, json,
            messageId: GenerationStreamSettings.EntryId(frame.Seq), maxLength: maxLength, useApproximateMaxLength: true);
        var expire = db.KeyExpireAsync(key, replayWindow);
        var publish = db.PublishAsync(RedisKeys.ConversationChannel(frame.ConversationId), json);
        await Task.WhenAll(add, expire, publish);
    }
}
