using Chat.Messaging;
using Chat.Messaging.Contracts;
using StackExchange.Redis;

namespace Chat.IntegrationTests;

/// <summary>Publishes a simulated generation's frames exactly as a real one is published (Chat.Messaging's publisher).</summary>
public sealed class StreamingGenerations(IConnectionMultiplexer redis)
{
    public IConnectionMultiplexer Redis { get; } = redis;

    /// <summary>Publishes with the same publisher Chat.Llm uses (XADD, EXPIRE, then PUBLISH on one connection).</summary>
    public Task PublishAsync(GenerationFrame frame) =>
        new GenerationFramePublisher(Redis).PublishAsync(frame, GenerationStreamSettings.DefaultReplayWindow);

    public static GenerationFrame Started(Guid conversationId, Guid generationId, Guid messageId) => new()
    {
        Type = FrameTypes.Started, ConversationId = conversationId, GenerationId = generationId, Seq = 0,
        MessageId = messageId, Model = "stub-model", Provider = "stub",
    };

    public static GenerationFrame Chunk(Guid conversationId, Guid generationId, long seq) => new()
    {
        Type = FrameTypes.Chunk, ConversationId = conversationId, GenerationId = generationId, Seq = seq, Delta = $"t{seq} ",
    };

    public static GenerationFrame Completed(Guid conversationId, Guid generationId, Guid messageId, long seq) => new()
    {
        Type = FrameTypes.Completed, ConversationId = conversationId, GenerationId = generationId, Seq = seq,
        MessageId = messageId, FinishReason = "stop", Usage = new FrameUsage(3, (int)seq - 1, (int)seq + 2),
    };

    public static GenerationFrame Cancelled(Guid conversationId, Guid generationId, Guid messageId, long seq) => new()
    {
        Type = FrameTypes.Cancelled, ConversationId = conversationId, GenerationId = generationId, Seq = seq, MessageId = messageId,
    };

    /// <summary>Publishes started, chunks 1..<paramref name="chunks"/> and completed.</summary>
    public async Task PublishWholeAsync(Guid conversationId, Guid generationId, int chunks, TimeSpan delay = default)
    {
        var messageId = Guid.CreateVersion7();
        await PublishOpenAsync(conversationId, generationId, messageId, chunks, delay);
        await PublishAsync(Completed(conversationId, generationId, messageId, chunks + 1));
    }

    /// <summary>Publishes the started frame and chunks 1..<paramref name="chunks"/>, as a runner does, leaving the generation open.</summary>
    public async Task PublishOpenAsync(Guid conversationId, Guid generationId, Guid messageId, int chunks, TimeSpan delay = default)
    {
        await PublishAsync(Started(conversationId, generationId, messageId));
        for (var seq = 1; seq <= chunks; seq++)
        {
            await PublishAsync(Chunk(conversationId, generationId, seq));
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay); // pacing a stand-in runner, not synchronisation
            }
        }
    }
}
