using Chat.Llm.Context;
using Chat.Llm.Diagnostics;
using Chat.Llm.Generation;
using Chat.Llm.Options;
using Chat.Llm.Providers;
using Chat.Llm.Routing;
using Chat.Llm.Tests.Infrastructure;
using Chat.Messaging;
using Chat.Messaging.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Chat.Llm.Tests;

/// <summary>
/// Leases over a real redis-server and a recording store: the final write retried through an outage, a run that
/// outlives its lease still ending its stream, a run whose lease was taken over going quiet, checkpoints, and the
/// sweeper ending what a dead process left.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class GenerationLeaseTests(RedisServerFixture redis) : IAsyncLifetime
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(20);
    private FakeUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    /// <summary>Short leases; the hosted sweeper effectively off, so a test drives its own.</summary>
    private static Dictionary<string, string?> Config(string renew = "00:00:00.200", string lease = "00:00:01")
    {
        var config = TestConfig.Fast();
        config["Llm:Generation:LeaseRenewInterval"] = renew;
        config["Llm:Generation:LeaseDuration"] = lease;
        config["Llm:Generation:SweepInterval"] = "01:00:00";
        config["Llm:Generation:RedisWait"] = "00:00:05";
        return config;
    }

    private static GenerationJob Job(LlmHost host, RouteChoice? choice = null)
    {
        var plan = host.Get<ModelRouter>().Resolve(choice);
        var context = ContextBuilder.Build("You are terse.", [new HistoryMessage(Guid.CreateVersion7(), "user", "Say something")], plan.Primary);
        return new GenerationJob
        {
            ConversationId = Guid.CreateVersion7(),
            GenerationId = Guid.CreateVersion7(),
            AssistantMessageId = Guid.CreateVersion7(),
            Route = plan,
            Messages = context.Messages,
        };
    }

    private static async Task<GenerationOutcome> RunAsync(LlmHost host, GenerationJob job) =>
        await (await host.Get<GenerationQueue>().EnqueueAsync(job, CancellationToken.None)).WaitAsync(s_wait);

    private static Task<IReadOnlyList<GenerationFrame>> StreamAsync(LlmHost host, Guid generationId) =>
        host.Get<GenerationStreamReader>().ReadAfterAsync(generationId, -1);

    private static void AssertEndsOnce(IReadOnlyList<GenerationFrame> frames, string terminalType)
    {
        Assert.Equal(Enumerable.Range(0, frames.Count).Select(i => (long)i), frames.Select(f => f.Seq));
        Assert.Equal(FrameTypes.Started, frames[0].Type);
        Assert.All(frames.Skip(1).SkipLast(1), f => Assert.Equal(FrameTypes.Chunk, f.Type));
        Assert.Equal(terminalType, frames[^1].Type);
    }

    private static GenerationSweeper Sweeper(LlmHost host) => new(
        host.Store, host.Get<GenerationStreamReader>(), host.Get<GenerationFramePublisher>(), host.Get<GenerationMetrics>(),
        host.Get<IOptions<LlmOptions>>(), TimeProvider.System, NullLogger<GenerationSweeper>.Instance);

    private static string Text(IEnumerable<GenerationFrame> frames) => string.Concat(frames.Where(f => f.Type == FrameTypes.Chunk).Select(f => f.Delta));

    [Fact]
    public async Task TheFinalWriteIsRetriedThroughAShortOutageAndTheTerminalFrameFollowsTheLastChunk()
    {
        await using var host = await LlmHost.StartAsync(Config(lease: "00:00:10", renew: "00:00:02"), redis.Redis);
        host.Store.FinishFailures = 3;
        var job = Job(host);

        var outcome = await RunAsync(host, job);

        Assert.Equal(GenerationStatus.Completed, outcome.Status);
        Assert.Equal("completed", host.Store.For(job.GenerationId)[^1].Call);
        Assert.Equal(0, host.Store.FinishFailures);
        var frames = await StreamAsync(host, job.GenerationId);
        AssertEndsOnce(frames, FrameTypes.Completed);
        Assert.Equal(outcome.Text, Text(frames));
    }

    [Fact]
    public async Task AFinalWriteThatOutlastsTheLeaseStillEndsTheStreamAndTheSweeperStoresItFromThere()
    {
        await using var host = await LlmHost.StartAsync(Config(), redis.Redis);
        host.Store.FinishFailures = -1;
        var job = Job(host);

        var outcome = await RunAsync(host, job);

        // Not stored, but every subscriber got the whole reply and its terminal frame.
        Assert.DoesNotContain(host.Store.For(job.GenerationId), c => c.Call == "completed");
        var frames = await StreamAsync(host, job.GenerationId);
        AssertEndsOnce(frames, FrameTypes.Completed);
        Assert.Equal(outcome.Text, Text(frames));

        // The database is back: the sweeper finds the row (its checkpoint empty) and stores what the stream says.
        host.Store.FinishFailures = 0;
        host.Store.Expired.Enqueue(new(job.AssistantMessageId, job.ConversationId, job.GenerationId, "", null, "chat-dev", "local"));
        Assert.Equal(1, await Sweeper(host).SweepOnceAsync(CancellationToken.None));

        var stored = host.Store.For(job.GenerationId)[^1];
        Assert.Equal("completed", stored.Call);
        Assert.Equal(outcome.Text, stored.Outcome!.Text);
        Assert.Equal(frames[^1].Usage, stored.Outcome.Usage);
        Assert.Equal(frames.Count - 2, stored.Outcome.ChunkCount);
        // Nothing more was published: the stream already ended.
        Assert.Equal(frames.Count, (await StreamAsync(host, job.GenerationId)).Count);
    }

    [Fact]
    public async Task ARunWhoseLeaseWasTakenOverStopsWithoutStoringOrEndingTheStream()
    {
        var config = Config().WithProvider("openai", ProviderTypes.OpenAI, new Uri(_upstream.BaseUri, "v1/"));
        config["Llm:Timeouts:Idle"] = "00:01:00";
        await using var host = await LlmHost.StartAsync(config, redis.Redis);
        _upstream.Enqueue(new StreamReply(["Thinking"], StreamEnd.Stall));
        var job = Job(host, new RouteChoice("gpt-4o-mini", "openai"));
        var completion = await host.Get<GenerationQueue>().EnqueueAsync(job, CancellationToken.None);
        await WaitUntilAsync(async () => (await StreamAsync(host, job.GenerationId)).Any(f => f.Type == FrameTypes.Chunk));

        host.Store.TakenOver[job.AssistantMessageId] = true;
        var outcome = await completion.WaitAsync(s_wait);

        Assert.Equal(GenerationStatus.Interrupted, outcome.Status);
        Assert.Equal("Thinking", outcome.Text);
        Assert.DoesNotContain(host.Store.For(job.GenerationId), c => c.Call != "streaming");
        var frames = await StreamAsync(host, job.GenerationId);
        Assert.Equal([FrameTypes.Started, FrameTypes.Chunk], frames.Select(f => f.Type));
        Assert.Equal(0, host.Get<GenerationLeases>().Count);
    }

    [Fact]
    public async Task TheKeeperCheckpointsTextOnlyWhenItGrewAndMarksALeaseTakenOverAsLost()
    {
        // The hosted keeper never ticks: this test drives rounds itself.
        await using var host = await LlmHost.StartAsync(Config(renew: "01:00:00", lease: "03:00:00"), redis.Redis);
        var keeper = new GenerationLeaseKeeper(host.Get<GenerationLeases>(), host.Store, host.Get<GenerationMetrics>(),
            host.Get<IOptions<LlmOptions>>(), TimeProvider.System, NullLogger<GenerationLeaseKeeper>.Instance);
        var job = Job(host);
        var lease = host.Get<GenerationLeases>().Track(job);
        var unstored = host.Get<GenerationLeases>().Track(Job(host) with { Persisted = new TaskCompletionSource().Task });

        lease.Append("Hel");
        await keeper.RenewOnceAsync(CancellationToken.None);
        await keeper.RenewOnceAsync(CancellationToken.None);
        lease.Append("lo");
        await keeper.RenewOnceAsync(CancellationToken.None);

        var renewals = host.Store.Renewals.ToList();
        Assert.Equal(
            [new LeaseRenewal(job.AssistantMessageId, "Hel", 1), new LeaseRenewal(job.AssistantMessageId, null, 1), new LeaseRenewal(job.AssistantMessageId, "Hello", 2)],
            renewals);
        Assert.DoesNotContain(renewals, r => r.AssistantMessageId == unstored.AssistantMessageId);
        Assert.False(lease.IsLost);

        host.Store.TakenOver[job.AssistantMessageId] = true;
        await keeper.RenewOnceAsync(CancellationToken.None);
        Assert.True(lease.IsLost);
        Assert.True(lease.Lost.IsCancellationRequested);
    }

    [Fact]
    public async Task TheSweeperEndsAGenerationWithTheLongerOfStreamAndCheckpointAndPublishesTheTerminalFrameNext()
    {
        await using var host = await LlmHost.StartAsync(Config(), redis.Redis);
        var publisher = host.Get<GenerationFramePublisher>();
        var (conversationId, generationId, messageId) = (Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7());
        GenerationFrame Frame(string type, long seq, string? delta = null) =>
            new() { Type = type, ConversationId = conversationId, GenerationId = generationId, Seq = seq, MessageId = messageId, Delta = delta };
        foreach (var frame in new[] { Frame(FrameTypes.Started, 0), Frame(FrameTypes.Chunk, 1, "Once "), Frame(FrameTypes.Chunk, 2, "upon ") })
        {
            await publisher.PublishAsync(frame, TimeSpan.FromMinutes(1));
        }

        // The checkpoint is behind the stream (taken after chunk 1).
        host.Store.Expired.Enqueue(new(messageId, conversationId, generationId, "Once ", 1, "chat-dev", "local"));
        Assert.Equal(1, await Sweeper(host).SweepOnceAsync(CancellationToken.None));

        var stored = host.Store.For(generationId).Single();
        Assert.Equal("interrupted", stored.Call);
        Assert.Equal("Once upon ", stored.Outcome!.Text);
        Assert.Equal(LlmErrorCodes.Interrupted, stored.Outcome.ErrorCode);
        var frames = await StreamAsync(host, generationId);
        AssertEndsOnce(frames, FrameTypes.Failed);
        Assert.Equal(3, frames[^1].Seq);
        Assert.Equal(LlmErrorCodes.Interrupted, frames[^1].Code);
    }

    [Fact]
    public async Task TheSweeperRebuildsAGenerationWhoseStreamIsGoneFromItsCheckpoint()
    {
        await using var host = await LlmHost.StartAsync(Config(), redis.Redis);
        var (conversationId, generationId, messageId) = (Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7());
        host.Store.Expired.Enqueue(new(messageId, conversationId, generationId, "Partial text", 4, "chat-dev", "local"));

        Assert.Equal(1, await Sweeper(host).SweepOnceAsync(CancellationToken.None));

        Assert.Equal("Partial text", host.Store.For(generationId).Single().Outcome!.Text);
        var frames = await StreamAsync(host, generationId);
        AssertEndsOnce(frames, FrameTypes.Failed);
        Assert.Equal("Partial text", Text(frames));
        Assert.Equal("chat-dev", frames[0].Model);
    }

    [Fact]
    public void APlanPublishesWhatTheCheckpointHoldsBeyondTheStreamAsOneChunk()
    {
        var row = new ExpiredGeneration(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), "abcdef", 3, "m", "p");
        GenerationFrame Frame(string type, long seq, string? delta = null) =>
            new() { Type = type, ConversationId = row.ConversationId, GenerationId = row.GenerationId, Seq = seq, Delta = delta };

        var (outcome, frames) = InterruptedGeneration.Plan(row, [Frame(FrameTypes.Started, 0), Frame(FrameTypes.Chunk, 1, "ab")]);

        Assert.Equal("abcdef", outcome.Text);
        Assert.Equal(GenerationStatus.Interrupted, outcome.Status);
        Assert.Equal(2, outcome.ChunkCount);
        Assert.Equal([(FrameTypes.Chunk, 2L, "cdef"), (FrameTypes.Failed, 3L, null)], frames.Select(f => (f.Type, f.Seq, f.Delta)));
    }

    [Fact]
    public void APlanKeepsTheStreamWhenTheCheckpointDisagreesWithIt()
    {
        var row = new ExpiredGeneration(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), "xyz", 1, "m", "p");
        GenerationFrame Frame(string type, long seq, string? delta = null) =>
            new() { Type = type, ConversationId = row.ConversationId, GenerationId = row.GenerationId, Seq = seq, Delta = delta };

        var (outcome, frames) = InterruptedGeneration.Plan(row, [Frame(FrameTypes.Started, 0), Frame(FrameTypes.Chunk, 1, "ab")]);

        Assert.Equal("ab", outcome.Text);
        Assert.Equal([(FrameTypes.Failed, 2L)], frames.Select(f => (f.Type, f.Seq)));
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        using var deadline = new CancellationTokenSource(s_wait);
        while (!await condition())
        {
            await Task.Delay(50, deadline.Token);
        }
    }
}
