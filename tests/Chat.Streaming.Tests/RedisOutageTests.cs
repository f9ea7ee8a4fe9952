using System.Text.Json;
using System.Threading.Channels;
using Chat.Messaging;
using Chat.Messaging.Contracts;
using Chat.Streaming.Infrastructure;
using Chat.Streaming.Services;
using Chat.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Chat.Streaming.Tests;

/// <summary>
/// The hub against a real redis-server that is killed and started again empty (as the app host's local Redis comes
/// back): its sockets are told <c>stream.interrupted</c>, then get what the runner writes once Redis answers (stream
/// re-created from seq 0, XADD before PUBLISH) exactly once and in order, then <c>stream.restored</c>; a stream that
/// never comes back is named in <c>recovered:false</c> after the grace.
/// </summary>
public sealed class RedisOutageTests : IAsyncLifetime
{
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(30);

    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly Guid _conversationId = Guid.CreateVersion7();
    private readonly Guid _messageId = Guid.CreateVersion7();
    private RedisServer _server = null!;
    private ConnectionMultiplexer _hubRedis = null!;
    private StreamingTelemetry _telemetry = null!;

    public async Task InitializeAsync()
    {
        _server = await RedisServer.StartAsync();
        var options = ConfigurationOptions.Parse(_server.Configuration);
        RedisExtensions.Configure(options, RedisCommandsWhileDisconnected.Queue); // as Chat.Streaming runs it
        _hubRedis = await ConnectionMultiplexer.ConnectAsync(options);
        _telemetry = new StreamingTelemetry(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
    }

    public async Task DisposeAsync()
    {
        await _hubRedis.DisposeAsync();
        await _server.DisposeAsync();
        _telemetry.Dispose();
        await _services.DisposeAsync();
    }

    [Fact]
    public async Task RedisRestartingEmptyInterruptsThenDeliversWhatTheRunnerRewritesExactlyOnceInOrderThenRestores()
    {
        await using var hub = CreateHub(grace: TimeSpan.FromSeconds(10));
        var socket = new RecordingSink();
        var subscription = new Subscription(_conversationId, socket, 4096);
        await hub.AttachAsync(subscription, CancellationToken.None).WaitAsync(Bounded);

        var g1 = Guid.CreateVersion7(); // running across the outage
        var g2 = Guid.CreateVersion7(); // started while Redis was away; its first publications lost
        await using (var runner = await ConnectRunnerAsync())
        {
            for (var seq = 0; seq <= 3; seq++)
            {
                await PublishAsync(runner, Frame(g1, seq, terminal: false));
            }
            await socket.WaitForAsync(f => Seq(f, g1) == 3);
        }

        await _server.KillAsync();
        await socket.WaitForAsync(f => Type(f) == "stream.interrupted");

        await _server.RestartAsync();
        // Let the hub reconnect and find g1's stream missing before the runner re-creates it: the restore keeps retrying.
        await WaitUntilAsync(() => !hub.RestoreIdle.IsCompleted);
        await using (var runner = await ConnectRunnerAsync())
        {
            for (var seq = 0; seq <= 3; seq++)
            {
                await AppendAsync(runner, Frame(g1, seq, terminal: false)); // re-created, published before the outage
            }
            await PublishAsync(runner, Frame(g1, 4, terminal: false));
            await PublishAsync(runner, Frame(g1, 5, terminal: false));
            await AppendAsync(runner, Frame(g2, 0, terminal: false)); // PUBLISH lost (never reached this replica)
            await AppendAsync(runner, Frame(g2, 1, terminal: false));
            await PublishAsync(runner, Frame(g2, 2, terminal: false));
            await PublishAsync(runner, Frame(g1, 6, terminal: true));
            await PublishAsync(runner, Frame(g2, 3, terminal: true));
        }

        await socket.WaitForAsync(f => Seq(f, g1) == 6);
        await socket.WaitForAsync(f => Seq(f, g2) == 3);
        var restored = await socket.WaitForAsync(f => Type(f) == "stream.restored");
        Assert.True(restored.GetProperty("recovered").GetBoolean(), restored.ToString());
        Assert.Equal(_conversationId, restored.GetProperty("conversationId").GetGuid());
        await hub.RestoreIdle.WaitAsync(Bounded);

        var frames = socket.All();
        Assert.Equal([0, 1, 2, 3, 4, 5, 6], frames.Where(f => Seq(f, g1) is not null).Select(f => Seq(f, g1)!.Value));
        Assert.Equal([0, 1, 2, 3], frames.Where(f => Seq(f, g2) is not null).Select(f => Seq(f, g2)!.Value));
        var interrupted = frames.FindIndex(f => Type(f) == "stream.interrupted");
        Assert.Equal(1, frames.Count(f => Type(f) == "stream.interrupted"));
        Assert.Equal(1, frames.Count(f => Type(f) == "stream.restored"));
        Assert.Equal(4, interrupted); // after g1's 0..3, before anything written after the outage
        Assert.True(frames.FindIndex(f => Type(f) == "stream.restored") > interrupted);
    }

    [Fact]
    public async Task RedisRestartingEmptyWithAStreamThatNeverComesBackTellsTheSocketsToReloadThatGeneration()
    {
        await using var hub = CreateHub(grace: TimeSpan.FromSeconds(1));
        var socket = new RecordingSink();
        await hub.AttachAsync(new Subscription(_conversationId, socket, 4096), CancellationToken.None).WaitAsync(Bounded);

        var lost = Guid.CreateVersion7();
        await using (var runner = await ConnectRunnerAsync())
        {
            await PublishAsync(runner, Frame(lost, 0, terminal: false));
            await PublishAsync(runner, Frame(lost, 1, terminal: false));
            await socket.WaitForAsync(f => Seq(f, lost) == 1);
        }

        await _server.KillAsync();
        await socket.WaitForAsync(f => Type(f) == "stream.interrupted");
        await _server.RestartAsync(); // empty, and no runner re-creates the stream

        var restored = await socket.WaitForAsync(f => Type(f) == "stream.restored");
        Assert.False(restored.GetProperty("recovered").GetBoolean(), restored.ToString());
        Assert.Equal([lost], restored.GetProperty("generationIds").EnumerateArray().Select(g => g.GetGuid()));
        await hub.RestoreIdle.WaitAsync(Bounded);
        Assert.Equal(["generation.started", "chunk", "stream.interrupted", "stream.restored"], socket.All().Select(Type));
    }

    private ConversationHub CreateHub(TimeSpan grace) =>
        new(_hubRedis, _telemetry, Options.Create(new StreamingOptions { RedisRestoreGrace = grace }), TimeProvider.System,
            NullLogger<ConversationHub>.Instance);

    /// <summary>The runner's own connection (fail-fast, as Chat.Api runs it).</summary>
    private async Task<ConnectionMultiplexer> ConnectRunnerAsync()
    {
        var options = ConfigurationOptions.Parse(_server.Configuration);
        RedisExtensions.Configure(options, RedisCommandsWhileDisconnected.FailFast);
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    private GenerationFrame Frame(Guid generationId, long seq, bool terminal) => new()
    {
        Type = seq == 0 ? FrameTypes.Started : terminal ? FrameTypes.Completed : FrameTypes.Chunk,
        ConversationId = _conversationId,
        GenerationId = generationId,
        Seq = seq,
        MessageId = _messageId,
        Delta = seq > 0 && !terminal ? $"t{seq} " : null,
    };

    /// <summary>XADD then PUBLISH, as the runner writes every frame.</summary>
    private static Task PublishAsync(ConnectionMultiplexer runner, GenerationFrame frame) =>
        new GenerationFramePublisher(runner).PublishAsync(frame, GenerationStreamSettings.DefaultReplayWindow);

    /// <summary>XADD only: a frame the runner re-writes to a re-created stream, or whose PUBLISH never reached us.</summary>
    private static Task<RedisValue> AppendAsync(ConnectionMultiplexer runner, GenerationFrame frame) =>
        runner.GetDatabase().StreamAddAsync(RedisKeys.GenerationStream(frame.GenerationId), GenerationStreamSettings.FrameField,
            frame.ToJson(), messageId: GenerationStreamSettings.EntryId(frame.Seq));

    private static string? Type(JsonElement frame) => frame.GetProperty("type").GetString();

    private static long? Seq(JsonElement frame, Guid generationId) =>
        frame.TryGetProperty("generationId", out var g) && g.GetGuid() == generationId ? frame.GetProperty("seq").GetInt64() : null;

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var deadline = new CancellationTokenSource(Bounded);
        while (!condition())
        {
            await Task.Delay(20, deadline.Token); // bounded polling of an observable state
        }
    }

    /// <summary>A socket's send queue: records every frame the subscription hands it.</summary>
    private sealed class RecordingSink : IFrameSink
    {
        private readonly Lock _gate = new();
        private readonly List<JsonElement> _frames = [];
        private readonly Channel<JsonElement> _arrivals = Channel.CreateUnbounded<JsonElement>();

        public bool TryEnqueue(ReadOnlyMemory<byte> frame)
        {
            var parsed = JsonDocument.Parse(frame).RootElement.Clone();
            lock (_gate)
            {
                _frames.Add(parsed);
            }
            _arrivals.Writer.TryWrite(parsed);
            return true;
        }

        public void NoteGeneration(Guid generationId, Guid conversationId)
        {
        }

        public void Overflowed() => throw new InvalidOperationException("overflowed");

        public List<JsonElement> All()
        {
            lock (_gate)
            {
                return [.. _frames];
            }
        }

        /// <summary>The first frame received so far, or still to come, that matches; bounded.</summary>
        public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match)
        {
            using var deadline = new CancellationTokenSource(Bounded);
            while (true)
            {
                foreach (var frame in All())
                {
                    if (match(frame))
                    {
                        return frame;
                    }
                }
                try
                {
                    await _arrivals.Reader.WaitToReadAsync(deadline.Token);
                }
                catch (OperationCanceledException)
                {
                    throw new TimeoutException($"No matching frame; received: {string.Join(" ", All())}");
                }
                while (_arrivals.Reader.TryRead(out _))
                {
                }
            }
        }
    }
}
