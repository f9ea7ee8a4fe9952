using Chat.Streaming.Services;

namespace Chat.Streaming.Tests;

/// <summary>The connection's send queue: bounded, first in first out, one waiting reader, completion.</summary>
public sealed class SendQueueTests
{
    [Fact]
    public void FramesComeOutInOrderAcrossGrowthAndWrapUntilTheCapacityRefusesMore()
    {
        var queue = new SendQueue(capacity: 20);
        var next = 0;
        var expected = 0;
        // Interleave writes and reads so the ring wraps while it grows from its first 8 slots to 16, then 20.
        for (var round = 0; round < 4; round++)
        {
            for (var i = 0; i < 7; i++)
            {
                Assert.True(queue.TryWrite(Frame(next++)));
            }
            for (var i = 0; i < 3; i++)
            {
                Assert.True(queue.TryRead(out var frame));
                Assert.Equal(expected++, Read(frame));
            }
        }
        Assert.Equal(16, queue.Count);
        for (var i = 0; i < 4; i++)
        {
            Assert.True(queue.TryWrite(Frame(next++)));
        }
        Assert.Equal(20, queue.Count);
        Assert.False(queue.TryWrite(Frame(next)));
        Assert.Equal(20, queue.Count);

        while (queue.TryRead(out var frame))
        {
            Assert.Equal(expected++, Read(frame));
        }
        Assert.Equal(next, expected);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task AWaitingReaderWakesForAWriteAndSeesFalseOnlyOnceCompletedAndEmpty()
    {
        var queue = new SendQueue(capacity: 4);
        var wait = queue.WaitToReadAsync();
        Assert.False(wait.IsCompleted);

        Assert.True(queue.TryWrite(Frame(1)));
        Assert.True(await wait.AsTask().WaitAsync(TimeSpan.FromSeconds(5)));

        Assert.True(queue.TryWrite(Frame(2)));
        Assert.True(queue.TryComplete());
        Assert.False(queue.TryComplete());
        Assert.False(queue.TryWrite(Frame(3)));

        // Completed, but what was queued is still read.
        Assert.True(await queue.WaitToReadAsync());
        Assert.True(queue.TryRead(out var first));
        Assert.True(queue.TryRead(out var second));
        Assert.Equal([1, 2], new[] { Read(first), Read(second) });
        Assert.False(await queue.WaitToReadAsync());
    }

    [Fact]
    public async Task CompletingWakesAWaitingReaderWithFalse()
    {
        var queue = new SendQueue(capacity: 4);
        var wait = queue.WaitToReadAsync();
        Assert.True(queue.TryComplete());
        Assert.False(await wait.AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task ASecondWaitWhileOneIsOutstandingIsRefused()
    {
        var queue = new SendQueue(capacity: 4);
        var first = queue.WaitToReadAsync().AsTask();
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await queue.WaitToReadAsync());
        queue.TryWrite(Frame(1));
        Assert.True(await first.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task ConcurrentWritersAndOneReaderLoseNothingAndKeepEachWritersOrder()
    {
        const int Writers = 4;
        const int PerWriter = 20_000;
        var queue = new SendQueue(capacity: 64);
        var seen = new int[Writers];
        var read = 0;
        var reader = Task.Run(async () =>
        {
            while (await queue.WaitToReadAsync())
            {
                while (queue.TryRead(out var frame))
                {
                    var value = Read(frame);
                    var writer = value / PerWriter;
                    Assert.Equal(seen[writer], value % PerWriter); // each writer's frames arrive in its order
                    seen[writer]++;
                    read++;
                }
            }
        });
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(() =>
        {
            for (var i = 0; i < PerWriter; i++)
            {
                var frame = Frame((w * PerWriter) + i);
                var spin = new SpinWait();
                while (!queue.TryWrite(frame))
                {
                    spin.SpinOnce(); // full: the reader is behind
                }
            }
        })).ToArray();
        await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(60));
        queue.TryComplete();
        await reader.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(Writers * PerWriter, read);
        Assert.All(seen, count => Assert.Equal(PerWriter, count));
    }

    [Fact]
    public void ACapacityBelowOneIsRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new SendQueue(0));

    private static ReadOnlyMemory<byte> Frame(int value) => BitConverter.GetBytes(value);

    private static int Read(ReadOnlyMemory<byte> frame) => BitConverter.ToInt32(frame.Span);
}
