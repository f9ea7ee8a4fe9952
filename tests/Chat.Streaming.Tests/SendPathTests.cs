using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Chat.Streaming.Services;

namespace Chat.Streaming.Tests;

/// <summary>
/// A connection writes a frame inline when nothing is queued or in flight, and hands a send that does not complete at
/// once to its writer loop. These pin down what must never change with that: order, exactly-once, one send at a time,
/// and the slow-consumer close.
/// </summary>
public sealed class SendPathTests : IDisposable
{
    private readonly TestConnections _connections = new();

    public void Dispose() => _connections.Dispose();

    [Fact]
    public async Task FramesQueuedBehindASendThatHasNotCompletedFollowItInOrder()
    {
        var socket = new ScriptedWebSocket();
        using var connection = Create(socket, sendQueueCapacity: 64);
        var run = connection.RunAsync();
        await WaitUntilAsync(() => socket.Sent.Count == 1); // hello

        socket.HoldSends = true;
        for (var n = 1; n <= 40; n++)
        {
            Assert.True(connection.TryEnqueue(Frame(0, n)));
        }
        // The writer loop has woken for the queued frames and taken the send side: from here it would send one of them.
        await WaitUntilAsync(() => connection.Sender.WriterHoldsSendSide);
        Assert.Equal(2, socket.Sent.Count); // hello and frame 1, still in flight: nothing overtakes or joins it
        Assert.Equal(1, socket.HeldCount);

        socket.ReleaseHeldSends();
        await WaitUntilAsync(() => socket.Sent.Count == 41);
        Assert.Equal(Enumerable.Range(1, 40), socket.Sent.Skip(1).Select(f => Read(f).N));
        Assert.False(socket.OverlappingSends);

        socket.PeerCloses();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ConcurrentProducersWhileSendsStallLoseNothingAndKeepEachOnesOrder()
    {
        const int Producers = 4;
        const int PerProducer = 2_000;
        var socket = new ScriptedWebSocket();
        using var connection = Create(socket, sendQueueCapacity: Producers * PerProducer);
        var run = connection.RunAsync();
        await WaitUntilAsync(() => socket.Sent.Count == 1);

        using var stop = new CancellationTokenSource();
        var staller = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                // Each stall lasts until a send is held (or the producers are done), then every held send completes.
                socket.HoldSends = true;
                await WaitUntilAsync(() => socket.HeldCount > 0 || stop.IsCancellationRequested);
                socket.ReleaseHeldSends();
                await Task.Yield();
            }
        });
        var producers = Enumerable.Range(0, Producers).Select(p => Task.Run(() =>
        {
            for (var n = 1; n <= PerProducer; n++)
            {
                Assert.True(connection.TryEnqueue(Frame(p, n)));
            }
        })).ToArray();
        await Task.WhenAll(producers);
        await stop.CancelAsync();
        await staller;
        socket.ReleaseHeldSends();

        await WaitUntilAsync(() => socket.Sent.Count == 1 + (Producers * PerProducer));
        var frames = socket.Sent.Skip(1).Select(Read).ToList();
        for (var p = 0; p < Producers; p++)
        {
            Assert.Equal(Enumerable.Range(1, PerProducer), frames.Where(f => f.P == p).Select(f => f.N));
        }
        Assert.False(socket.OverlappingSends);

        socket.PeerCloses();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task AQueueThatFillsBehindAStalledSendClosesTheConnectionAsASlowConsumer()
    {
        var socket = new ScriptedWebSocket();
        using var connection = Create(socket, sendQueueCapacity: 16);
        var run = connection.RunAsync();
        await WaitUntilAsync(() => socket.Sent.Count == 1);

        socket.HoldSends = true;
        var accepted = 0;
        while (connection.TryEnqueue(Frame(0, accepted + 1)))
        {
            accepted++;
            Assert.True(accepted <= 17, "the queue never filled");
        }
        Assert.Equal(17, accepted); // one in flight, sixteen queued

        socket.ReleaseHeldSends();
        await run.WaitAsync(TimeSpan.FromSeconds(10)); // the close is not answered: the abort timer ends it
        Assert.Equal(4008, (int?)socket.SentCloseStatus);
        Assert.False(socket.OverlappingSends);
    }

    private ChatConnection Create(ScriptedWebSocket socket, int sendQueueCapacity, int maxSubscriptions = 100) =>
        _connections.Create(socket, o =>
        {
            o.SendQueueCapacity = sendQueueCapacity;
            o.MaxSubscriptionsPerConnection = maxSubscriptions;
        });

    [Fact]
    public async Task AFramesSpanStartsATraceOfItsOwnLinkedToTheConnectionsRequestSpan()
    {
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is StreamingTelemetry.Name or "test.request",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        using var requests = new ActivitySource("test.request");
        using var request = requests.StartActivity("GET /ws", ActivityKind.Server);
        Assert.NotNull(request);

        var socket = new ScriptedWebSocket();
        // No subscription allowed: the subscribe span starts, and the frame is refused without Redis or chat-api.
        using var connection = Create(socket, sendQueueCapacity: 64, maxSubscriptions: 0);
        var run = connection.RunAsync();
        socket.PeerSends($$"""{"type":"subscribe","id":"s1","conversationId":"{{Guid.NewGuid()}}"}""");
        await WaitUntilAsync(() => socket.Sent.Count == 2);
        Assert.Contains("too_many_subscriptions", socket.Sent[1], StringComparison.Ordinal);
        // The refusal is sent from inside the span: the span stops just after it.
        await WaitUntilAsync(() => stopped.Any(a => a.OperationName == "subscribe"));

        var span = Assert.Single(stopped, a => a.OperationName == "subscribe" && a.Links.Any(l => l.Context.TraceId == request.TraceId));
        Assert.Equal(default, span.ParentSpanId);
        Assert.NotEqual(request.TraceId, span.TraceId);
        Assert.Equal(request.SpanId, Assert.Single(span.Links).Context.SpanId);
        Assert.Same(request, Activity.Current);

        socket.PeerCloses();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private static byte[] Frame(int producer, int n) => Encoding.UTF8.GetBytes($$"""{"p":{{producer}},"n":{{n}}}""");

    private static (int P, int N) Read(string frame)
    {
        using var json = JsonDocument.Parse(frame);
        return (json.RootElement.GetProperty("p").GetInt32(), json.RootElement.GetProperty("n").GetInt32());
    }

    private static Task WaitUntilAsync(Func<bool> condition) => TestConnections.WaitUntilAsync(condition);
}
