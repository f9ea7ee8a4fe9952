using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Chat.Llm.Diagnostics;
using Chat.Llm.Generation;
using Chat.Llm.Options;
using Chat.Messaging;
using Chat.Messaging.Contracts;
using Chat.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Chat.Llm.Tests;

/// <summary>The frame outlet across a Redis outage: a real redis-server on a loopback port, killed and started again (empty)
/// on the same port. Expected frames are built from the test's inputs, never read back from the outlet. Not run in parallel
/// with other tests: the allocation measurement counts every thread's allocations.</summary>
[Collection(nameof(MeasuredAlone))]
public sealed class FrameOutletTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(15);
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly Guid _conversationId = Guid.CreateVersion7();
    private readonly Guid _generationId = Guid.CreateVersion7();
    private RedisServer _server = null!;
    private MeterListener? _listener;
    private long _framesBuffered;

    public async Task InitializeAsync()
    {
        _server = await RedisServer.StartAsync();
        var factory = _services.GetRequiredService<IMeterFactory>();
        _listener = new MeterListener
        {
            // Only this test's meter (its own factory), whatever else runs in parallel.
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == factory && instrument.Name == "chat.generation.frames_buffered")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _framesBuffered, value));
        _listener.Start();
    }

    public async Task DisposeAsync()
    {
        _listener?.Dispose();
        await _services.DisposeAsync();
        await _server.DisposeAsync();
    }

    /// <summary>Frames 0..count-1 of one generation: started, chunks, and a completed frame last.</summary>
    private List<GenerationFrame> Frames(int count) =>
        Enumerable.Range(0, count).Select(seq => new GenerationFrame
        {
            Type = seq == 0 ? FrameTypes.Started : seq == count - 1 ? FrameTypes.Completed : FrameTypes.Chunk,
            ConversationId = _conversationId,
            GenerationId = _generationId,
            Seq = seq,
            MessageId = _generationId,
            Delta = seq == 0 || seq == count - 1 ? null : $"word{seq} ",
            Model = seq == 0 || seq == count - 1 ? "chat-dev" : null,
            Provider = seq == 0 || seq == count - 1 ? "local" : null,
            FinishReason = seq == count - 1 ? "stop" : null,
        }).ToList();

    private FrameOutlet Outlet(IConnectionMultiplexer redis, TimeProvider? time = null) => new(
        new GenerationFeed(), new GenerationFramePublisher(redis), new GenerationOptions(),
        new GenerationMetrics(_services.GetRequiredService<IMeterFactory>()), time ?? TimeProvider.System);

    /// <summary>How many EXPIRE commands the server has run (its own counter, INFO commandstats; an admin connection).</summary>
    private static async Task<long> ExpireCallsAsync(ConnectionMultiplexer admin)
    {
        var info = await admin.GetServer(admin.GetEndPoints()[0]).InfoRawAsync("commandstats") ?? "";
        var line = info.Split('\n').FirstOrDefault(l => l.StartsWith("cmdstat_expire:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split("calls=")[1].Split(',')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Sends as the runner does: each send returns the previous frame's write, awaited before the next frame.</summary>
    private static async Task SendAsync(FrameOutlet outlet, IEnumerable<GenerationFrame> frames)
    {
        foreach (var frame in frames)
        {
            await outlet.SendAsync(frame).WaitAsync(s_wait);
        }
    }

    private async Task<List<(string Id, string Json)>> StreamAsync(IConnectionMultiplexer redis) =>
        (await redis.GetDatabase().StreamRangeAsync(RedisKeys.GenerationStream(_generationId)))
        .Select(e => (e.Id.ToString(), e[GenerationStreamSettings.FrameField].ToString())).ToList();

    private static List<(string Id, string Json)> Expected(IEnumerable<GenerationFrame> frames) =>
        frames.Select(f => ($"{f.Seq}-1", f.ToJson())).ToList();

    private static Task WaitUntilAsync(Func<bool> condition, string what) => RedisServer.WaitUntilAsync(condition, what);

    [Fact]
    public async Task FramesSentWhileRedisIsDownReachTheStreamAndTheSubscriberOnceInOrder()
    {
        var redis = await _server.ConnectAsync();
        var elsewhere = await _server.ConnectAsync();
        await using var subscriber = await Subscriber.StartAsync(elsewhere, _conversationId);
        var frames = Frames(14);
        var outlet = Outlet(redis);

        await SendAsync(outlet, frames.Take(5));
        Assert.True(await outlet.FlushAsync(s_wait, CancellationToken.None));
        await WaitUntilAsync(() => subscriber.Frames.Count == 5, "frames 0..4 live");

        await _server.KillAsync();
        await WaitUntilAsync(() => !redis.IsConnected, "the client to see the outage");
        foreach (var frame in frames.Skip(5).Take(5))
        {
            // Full speed: nothing waits for the dead Redis.
            var send = outlet.SendAsync(frame);
            Assert.True(send.IsCompletedSuccessfully, $"send of seq {frame.Seq} waited");
        }

        Assert.Equal(5, outlet.Buffered);
        Assert.Equal(5, Interlocked.Read(ref _framesBuffered));

        await _server.RestartAsync();
        await WaitUntilAsync(() => redis.IsConnected && elsewhere.IsConnected, "both clients to reconnect");
        await subscriber.WaitResubscribedAsync(redis);
        await SendAsync(outlet, frames.Skip(10).Take(3));
        Assert.True(await outlet.FlushAsync(s_wait, CancellationToken.None));
        await SendAsync(outlet, frames.Skip(13));
        Assert.True(await outlet.FlushAsync(s_wait, CancellationToken.None));

        Assert.False(outlet.Superseded);
        Assert.Equal(0, outlet.Buffered);
        // Redis came back empty: the stream was re-created from seq 0, no gap, no duplicate.
        Assert.Equal(Expected(frames), await StreamAsync(redis));
        await WaitUntilAsync(() => subscriber.Frames.Count >= frames.Count, "every frame live");
        Assert.Equal(frames.Select(f => f.ToJson()), subscriber.Frames);
    }

    [Fact]
    public async Task TheStreamsExpiryIsSetOnTheFirstFrameEveryQuarterWindowAndTheLastFrame()
    {
        var redis = await _server.ConnectAsync();
        var time = new FakeTimeProvider();
        var quarter = new GenerationOptions().ReplayWindow / 4;
        var frames = Frames(12);
        var outlet = Outlet(redis, time);
        await using var admin = await ConnectionMultiplexer.ConnectAsync(_server.Configuration + ",allowAdmin=true");

        async Task<long> SendThenCountAsync(IEnumerable<GenerationFrame> batch)
        {
            await SendAsync(outlet, batch);
            Assert.True(await outlet.FlushAsync(s_wait, CancellationToken.None));
            return await ExpireCallsAsync(admin);
        }

        Assert.Equal(1, await SendThenCountAsync(frames.Take(5))); // seq 0 only
        time.Advance(quarter - TimeSpan.FromSeconds(1));
        Assert.Equal(1, await SendThenCountAsync(frames.Skip(5).Take(1))); // not yet a quarter window since seq 0
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(2, await SendThenCountAsync(frames.Skip(6).Take(1))); // a quarter window since seq 0
        Assert.Equal(2, await SendThenCountAsync(frames.Skip(7).Take(4)));
        Assert.Equal(3, await SendThenCountAsync(frames.Skip(11))); // the terminal frame

        var ttl = await redis.GetDatabase().KeyTimeToLiveAsync(RedisKeys.GenerationStream(_generationId));
        Assert.InRange(ttl!.Value, new GenerationOptions().ReplayWindow - TimeSpan.FromMinutes(1), new GenerationOptions().ReplayWindow);
        Assert.Equal(Expected(frames), await StreamAsync(redis));
    }

    [Fact]
    public async Task RedisRestartedEmptyBetweenTwoFramesGetsTheStreamBackFromSeqZero()
    {
        var redis = await _server.ConnectAsync();
        var elsewhere = await _server.ConnectAsync();
        await using var subscriber = await Subscriber.StartAsync(elsewhere, _conversationId);
        var frames = Frames(9);
        var outlet = Outlet(redis);
        await SendAsync(outlet, frames.Take(5));
        Assert.True(await outlet.FlushAsync(s_wait, CancellationToken.None));

        // The outage falls between two frames: the outlet sends nothing until Redis is back, and finds it empty.
        await _server.KillAsync();
        await WaitUntilAsync(() => !redis.IsConnected, "the client to see the outage");
        await _server.RestartAsync();
        await WaitUntilAsync(() => redis.IsConnected && elsewhere.IsConnected, "both clients to reconnect");
        await subscriber.WaitResubscribedAsync(redis);
        Assert.Empty(await StreamAsync(redis));

        await SendAsync(outlet, frames.Skip(5));
        Assert.True(await outlet.FlushAsync(s_wait, CancellationToken.None));

        Assert.Equal(Expected(frames), await StreamAsync(redis));
        await WaitUntilAsync(() => subscriber.Frames.Count >= frames.Count, "every frame live");
        Assert.Equal(frames.Select(f => f.ToJson()), subscriber.Frames);
    }

    [Fact]
    public async Task FlushReturnsFalseAfterItsWaitWhileRedisStaysDownAndTrueOnceItIsBack()
    {
        var redis = await _server.ConnectAsync();
        var frames = Frames(5);
        var outlet = Outlet(redis);
        await SendAsync(outlet, frames.Take(3));
        Assert.True(await outlet.FlushAsync(s_wait, CancellationToken.None));

        await _server.KillAsync();
        await WaitUntilAsync(() => !redis.IsConnected, "the client to see the outage");
        await SendAsync(outlet, frames.Skip(3));
        var wait = TimeSpan.FromMilliseconds(600);
        var clock = Stopwatch.StartNew();
        Assert.False(await outlet.FlushAsync(wait, CancellationToken.None));
        Assert.InRange(clock.Elapsed, wait, wait + TimeSpan.FromSeconds(5));
        Assert.Equal(2, outlet.Buffered);

        var flushing = outlet.FlushAsync(s_wait, CancellationToken.None);
        Assert.False(flushing.IsCompleted);
        await _server.RestartAsync();
        Assert.True(await flushing);
        Assert.Equal(0, outlet.Buffered);
        Assert.Equal(Expected(frames), await StreamAsync(redis));
    }

    [Fact]
    public async Task AnotherWriterAheadOfTheFrameWeWriteSupersedesTheGeneration()
    {
        var redis = await _server.ConnectAsync();
        var frames = Frames(8);
        var outlet = Outlet(redis);
        await SendAsync(outlet, frames.Take(4));
        Assert.True(await outlet.FlushAsync(s_wait, CancellationToken.None));

        // A sweeper declared the generation interrupted: its terminal frame takes seq 4 before ours.
        var swept = Interrupted(4);
        await redis.GetDatabase().StreamAddAsync(RedisKeys.GenerationStream(_generationId), GenerationStreamSettings.FrameField, swept.ToJson(), GenerationStreamSettings.EntryId(4));
        await outlet.SendAsync(frames[4]);

        Assert.False(await outlet.FlushAsync(s_wait, CancellationToken.None));
        Assert.True(outlet.Superseded);
        await SendAsync(outlet, frames.Skip(5));
        Assert.Equal(Expected(frames.Take(4).Append(swept)), await StreamAsync(redis));
    }

    [Fact]
    public async Task AnotherWriterDuringAnOutageSupersedesTheGenerationBeforeAnythingIsWritten()
    {
        var redis = await _server.ConnectAsync();
        var frames = Frames(8);
        var outlet = Outlet(redis);
        await SendAsync(outlet, frames.Take(4));
        Assert.True(await outlet.FlushAsync(s_wait, CancellationToken.None));

        await _server.KillAsync();
        await WaitUntilAsync(() => !redis.IsConnected, "the client to see the outage");
        await SendAsync(outlet, frames.Skip(4).Take(2));
        await _server.RestartAsync();
        await WaitUntilAsync(() => redis.IsConnected, "the client to reconnect");
        // The sweeper got there first, on the Redis that came back empty: its terminal frame at seq 4.
        var swept = Interrupted(4);
        await redis.GetDatabase().StreamAddAsync(RedisKeys.GenerationStream(_generationId), GenerationStreamSettings.FrameField, swept.ToJson(), GenerationStreamSettings.EntryId(4));

        Assert.False(await outlet.FlushAsync(s_wait, CancellationToken.None));
        Assert.True(outlet.Superseded);
        Assert.Equal(Expected([swept]), await StreamAsync(redis));
    }

    /// <summary>Measurement: bytes allocated per frame by the outlet (journal included) against the bare publisher with one
    /// write in flight, the least a frame can cost.</summary>
    [Fact]
    public async Task TheOutletAllocatesNoMorePerFrameThanTheBarePublisher()
    {
        const int count = 5000;
        var redis = await _server.ConnectAsync();
        var publisher = new GenerationFramePublisher(redis);
        var settings = new GenerationOptions();

        async Task<double> BarePublisherAsync(List<GenerationFrame> frames)
        {
            var before = GC.GetTotalAllocatedBytes(precise: true);
            var pending = Task.CompletedTask;
            foreach (var frame in frames)
            {
                var previous = pending;
                // The outlet's commands for a short generation: XADD and PUBLISH, EXPIRE on the first and last frames.
                var expire = frame.Seq == 0 || frame.IsTerminal ? settings.ReplayWindow : (TimeSpan?)null;
                pending = publisher.WriteAsync(frame, frame.ToJson(), expire, settings.StreamMaxLength);
                await previous;
            }

            await pending;
            return (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)frames.Count;
        }

        async Task<double> OutletAsync(List<GenerationFrame> frames)
        {
            var before = GC.GetTotalAllocatedBytes(precise: true);
            var outlet = Outlet(redis);
            foreach (var frame in frames)
            {
                await outlet.SendAsync(frame);
            }

            await outlet.SettleAsync();
            return (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)frames.Count;
        }

        // Each run on a stream of its own (explicit ids cannot repeat); the first two warm up.
        List<GenerationFrame> Fresh()
        {
            var generationId = Guid.CreateVersion7();
            return Frames(count).Select(f => f with { GenerationId = generationId }).ToList();
        }

        await BarePublisherAsync(Fresh());
        await OutletAsync(Fresh());
        var bare = await BarePublisherAsync(Fresh());
        var outlet = await OutletAsync(Fresh());
        output.WriteLine($"bytes allocated per frame: bare publisher {bare:0}, outlet {outlet:0} (journal included)");
        Assert.True(outlet <= bare * 1.1, $"outlet {outlet:0} B/frame against bare publisher {bare:0} B/frame");
    }

    private GenerationFrame Interrupted(long seq) => new()
    {
        Type = FrameTypes.Failed,
        ConversationId = _conversationId,
        GenerationId = _generationId,
        Seq = seq,
        MessageId = _generationId,
        Code = "interrupted",
        Message = "The generation was interrupted.",
    };

    /// <summary>Another process's subscriber on the conversation channel: records every frame's JSON as it arrives.</summary>
    private sealed class Subscriber : IAsyncDisposable
    {
        private const string ProbePrefix = "probe:";
        private readonly ChannelMessageQueue _queue;
        private readonly ConcurrentQueue<string> _frames = new();
        private readonly ConcurrentQueue<string> _probes = new();
        private readonly RedisChannel _channel;

        private Subscriber(ChannelMessageQueue queue, RedisChannel channel)
        {
            _queue = queue;
            _channel = channel;
            _queue.OnMessage(m =>
            {
                var text = m.Message.ToString();
                (text.StartsWith(ProbePrefix, StringComparison.Ordinal) ? _probes : _frames).Enqueue(text);
            });
        }

        public List<string> Frames => [.. _frames];

        public static async Task<Subscriber> StartAsync(IConnectionMultiplexer redis, Guid conversationId)
        {
            var channel = RedisKeys.ConversationChannel(conversationId);
            return new(await redis.GetSubscriber().SubscribeAsync(channel), channel);
        }

        /// <summary>Publishes probes through <paramref name="publisher"/> until one arrives: the subscription is back.</summary>
        public async Task WaitResubscribedAsync(IConnectionMultiplexer publisher)
        {
            var clock = Stopwatch.StartNew();
            for (var n = 0; _probes.IsEmpty; n++)
            {
                if (clock.Elapsed > s_wait)
                {
                    throw new TimeoutException("The subscription did not come back.");
                }

                try
                {
                    await publisher.GetSubscriber().PublishAsync(_channel, $"{ProbePrefix}{n}");
                }
                catch (RedisConnectionException)
                {
                }

                await WaitUntilAsync(() => !_probes.IsEmpty || clock.Elapsed.TotalMilliseconds > (n + 1) * 100, "a probe");
            }
        }

        public async ValueTask DisposeAsync() => await _queue.UnsubscribeAsync();
    }
}

/// <summary>Tests that measure the process (allocations) and so run with no other test alongside.</summary>
[CollectionDefinition(nameof(MeasuredAlone), DisableParallelization = true)]
public sealed class MeasuredAlone;
