using Chat.Bench.WebSockets;
using Chat.Messaging.Contracts;

namespace Chat.Bench.Tests;

public class GenerationDriverTests
{
    private sealed class RecordingPublisher : IFramePublisher
    {
        public List<GenerationFrame> Frames { get; } = [];

        public Task PublishAsync(GenerationFrame frame, string json)
        {
            lock (Frames)
            {
                Frames.Add(frame);
            }
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task EveryGenerationIsPublishedCompleteAndInOrder()
    {
        var publisher = new RecordingPublisher();
        var conversations = new List<Guid> { Guid.NewGuid(), Guid.NewGuid() };
        var subscribers = conversations.ToDictionary(c => c, _ => 3L);
        var driver = new GenerationDriver(publisher, conversations, subscribers);
        var windowOpened = false;
        var windowClosed = false;

        var result = await driver.RunAsync(
            new LoadShape(GenerationsPerSecond: 20, TokensPerSecond: 200, ChunksPerGeneration: 5, ChunkBytes: 64,
                Duration: TimeSpan.FromSeconds(2), Warmup: TimeSpan.FromMilliseconds(200)),
            () => windowOpened = true, () => windowClosed = true, CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(windowOpened && windowClosed);
        // 20/s for 2 s; a late tick catches up on the starts it owes, so only a stall past the end loses some.
        Assert.InRange(result.Generations, 20, 42);
        Assert.Equal(result.Generations * 7, result.Frames);
        Assert.Equal(result.Generations, result.GenerationsPerConversation.Values.Sum());
        Assert.Equal(result.ChunksInWindow * 3, result.DeliveriesOwedInWindow);
        foreach (var generation in publisher.Frames.GroupBy(f => f.GenerationId))
        {
            Assert.Equal([0, 1, 2, 3, 4, 5, 6], generation.Select(f => f.Seq));
            Assert.Equal(FrameTypes.Started, generation.First().Type);
            Assert.Equal(FrameTypes.Completed, generation.Last().Type);
            Assert.All(generation.Where(f => f.Type == FrameTypes.Chunk), f => Assert.Equal(64, f.Delta!.Length));
            Assert.Single(generation.Select(f => f.ConversationId).Distinct());
        }
    }
}
