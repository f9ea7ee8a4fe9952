using StackExchange.Redis;

namespace Chat.Messaging;

/// <summary>
/// The cancel channel (<see cref="RedisKeys.CancelChannel"/>): any process asks the one running a generation to stop it.
/// The only place that knows the channel's message format: the generation id in <c>N</c> format.
/// </summary>
public sealed class GenerationCancelBus(IConnectionMultiplexer redis)
{
    /// <summary>Asks every process (this one included) to cancel <paramref name="generationId"/>. Throws when Redis fails.</summary>
    public async Task PublishAsync(Guid generationId) =>
        await redis.GetSubscriber().PublishAsync(RedisKeys.CancelChannel, generationId.ToString("N"));

    /// <summary>
    /// Calls <paramref name="onCancel"/> with every generation id published on the channel, one at a time, until the
    /// returned subscription is disposed; completes once Redis has confirmed the subscription. A malformed message is skipped.
    /// </summary>
    public async Task<IAsyncDisposable> SubscribeAsync(Action<Guid> onCancel)
    {
        var queue = await redis.GetSubscriber().SubscribeAsync(RedisKeys.CancelChannel);
        queue.OnMessage(message =>
        {
            if (Guid.TryParseExact(message.Message.ToString(), "N", out var generationId))
            {
                onCancel(generationId);
            }
        });
        return new Subscription(queue);
    }

    private sealed class Subscription(ChannelMessageQueue queue) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await queue.UnsubscribeAsync();
    }
}
