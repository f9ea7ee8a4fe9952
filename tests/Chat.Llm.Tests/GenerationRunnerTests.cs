using System.Collections.Concurrent;
using Chat.Llm.Context;
using Chat.Llm.Diagnostics;
using Chat.Llm.Generation;
using Chat.Llm.Options;
using Chat.Llm.Providers;
using Chat.Llm.Routing;
using Chat.Llm.Tests.Infrastructure;
using Chat.Messaging;
using Chat.Messaging.Contracts;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Chat.Llm.Tests;

/// <summary>The generation runner end to end over a real redis-server: frames on pub/sub and in the replay stream,
/// replay after a seq, cancel through the Redis channel, failures with partial text, fallback.</summary>
[Collection(RedisCollection.Name)]
public sealed class GenerationRunnerTests(RedisServerFixture redis, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(20);
    private FakeUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    private static GenerationJob Job(LlmHost host, RouteChoice? choice = null, string prompt = "Tell me something")
    {
        var plan = host.Get<ModelRouter>().Resolve(choice);
        var context = ContextBuilder.Build("You are terse.", [new HistoryMessage(Guid.CreateVersion7(), "user", prompt)], plan.Primary);
        return new GenerationJob
        {
            ConversationId = Guid.CreateVersion7(),
            GenerationId = Guid.CreateVersion7(),
            AssistantMessageId = Guid.CreateVersion7(),
            Route = plan,
            Messages = context.Messages,
        };
    }

    /// <summary>Collects the frames of one conversation from pub/sub (subscribed before the generation starts).</summary>
    private sealed class FrameCollector : IAsyncDisposable
    {
        private readonly ChannelMessageQueue _queue;
        private readonly TaskCompletionSource _terminal = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _firstChunk = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private FrameCollector(ChannelMessageQueue queue)
        {
            _queue = queue;
            _queue.OnMessage(m =>
            {
                var frame = GenerationFrame.FromJson(m.Message.ToString())!;
                if (frame.Type == MarkerType)
                {
                    Markers.Add(frame.GenerationId);
                    return;
                }

                Frames.Enqueue(frame);
                if (frame.Type == FrameTypes.Chunk)
                {
                    _firstChunk.TrySetResult();
                }

                if (frame.IsTerminal)
                {
                    _terminal.TrySetResult();
                }
            });
        }

        /// <summary>The type of a test's own marker frame (<see cref="FramesSoFarAsync"/>), kept out of <see cref="Frames"/>.</summary>
        public const string MarkerType = "test.marker";

        public ConcurrentQueue<GenerationFrame> Frames { get; } = new();

        public ConcurrentBag<Guid> Markers { get; } = [];

        public Task Terminal => _terminal.Task.WaitAsync(s_wait);

        public Task FirstChunk => _firstChunk.Task.WaitAsync(s_wait);

        public static async Task<FrameCollector> StartAsync(IConnectionMultiplexer redis, Guid conversationId) =>
            new(await redis.GetSubscriber().SubscribeAsync(RedisKeys.ConversationChannel(conversationId)));

        public async ValueTask DisposeAsync() => await _queue.UnsubscribeAsync();
    }

    private static async Task<GenerationOutcome> RunAsync(LlmHost host, GenerationJob job)
    {
        var completion = await host.Get<GenerationQueue>().EnqueueAsync(job, CancellationToken.None);
        return await completion.WaitAsync(s_wait);
    }

    private static void AssertConsecutive(IReadOnlyList<GenerationFrame> frames, string terminalType)
    {
        Assert.Equal(Enumerable.Range(0, frames.Count).Select(i => (long)i), frames.Select(f => f.Seq));
        Assert.Equal(FrameTypes.Started, frames[0].Type);
        Assert.All(frames.Skip(1).SkipLast(1), f => Assert.Equal(FrameTypes.Chunk, f.Type));
        Assert.Equal(terminalType, frames[^1].Type);
    }

    [Fact]
    public async Task RunPublishesSeqZeroToTerminalOnPubSubAndStream()
    {
        await using var host = await LlmHost.StartAsync(TestConfig.Fast(), redis.Redis);
        var job = Job(host);
        await using var collector = await FrameCollector.StartAsync(redis.Redis, job.ConversationId);

        var outcome = await RunAsync(host, job);
        await collector.Terminal;

        Assert.Equal(GenerationStatus.Completed, outcome.Status);
        Assert.StartsWith(Local.LocalChatClient.Label, outcome.Text);
        var live = collector.Frames.ToList();
        AssertConsecutive(live, FrameTypes.Completed);
        Assert.Equal(outcome.ChunkCount + 2, live.Count);
        Assert.Equal(outcome.Text, string.Concat(live.Select(f => f.Delta)));
        Assert.Equal("stop", live[^1].FinishReason);
        Assert.NotNull(live[^1].Usage?.CompletionTokens);
        Assert.All(live, f => Assert.Equal(job.AssistantMessageId, f.MessageId));

        var stream = await redis.Redis.GetDatabase().StreamRangeAsync(RedisKeys.GenerationStream(job.GenerationId));
        Assert.Equal(live.Select(f => GenerationStreamSettings.EntryId(f.Seq)), stream.Select(e => e.Id.ToString()));
        Assert.Equal(live.Select(f => f.ToJson()), stream.Select(e => e[GenerationStreamSettings.FrameField].ToString()));
        var ttl = await redis.Redis.GetDatabase().KeyTimeToLiveAsync(RedisKeys.GenerationStream(job.GenerationId));
        Assert.InRange(ttl!.Value, TimeSpan.FromMinutes(9), GenerationStreamSettings.DefaultReplayWindow);

        Assert.Equal(["streaming", "completed"], host.Store.For(job.GenerationId).Select(c => c.Call));
        var stored = host.Store.For(job.GenerationId)[^1].Outcome!;
        Assert.Equal(outcome.Text, stored.Text);
        Assert.Equal("chat-dev", stored.Model);
        Assert.Equal("local", stored.Provider);
        Assert.NotNull(stored.TimeToFirstTokenMs);
    }

    [Fact]
    public async Task AFollowerInProcessGetsExactlyTheFramesTheStreamHolds()
    {
        await using var host = await LlmHost.StartAsync(TestConfig.Fast(), redis.Redis);
        var job = Job(host);
        var feed = host.Get<GenerationFeed>();
        var live = feed.Open(job.GenerationId);

        var followed = new List<GenerationFrame>();
        var completion = await host.Get<GenerationQueue>().EnqueueAsync(job, CancellationToken.None);
        using (var timeout = new CancellationTokenSource(s_wait))
        {
            await foreach (var f in host.Get<GenerationStreamReader>().FollowAsync(live, TimeSpan.FromSeconds(5), timeout.Token))
            {
                followed.Add(f);
            }
        }

        var outcome = await completion.WaitAsync(s_wait);
        Assert.Equal(GenerationStatus.Completed, outcome.Status);
        AssertConsecutive(followed, FrameTypes.Completed);
        Assert.Equal(outcome.Text, string.Concat(followed.Select(f => f.Delta)));
        // Everything the follower saw is in the replay stream, in the same order and byte for byte.
        var stored = await host.Get<GenerationStreamReader>().ReadAfterAsync(job.GenerationId, -1);
        Assert.Equal(stored.Select(f => f.ToJson()), followed.Select(f => f.ToJson()));
        // The terminal frame let the generation go: it can be followed here again (a second Open would throw otherwise).
        feed.Open(job.GenerationId).Dispose();
    }

    [Fact]
    public async Task AFollowerThatFallsBehindGetsTheDroppedFramesFromTheStreamWithoutGapOrDuplicate()
    {
        var config = TestConfig.Fast();
        config["Llm:Local:MinReplyTokens"] = "60";
        config["Llm:Local:ChunkTokens"] = "1";
        await using var host = await LlmHost.StartAsync(config, redis.Redis, services => services.AddSingleton(new GenerationFeed(capacity: 4)));
        var job = Job(host);
        using var live = host.Get<GenerationFeed>().Open(job.GenerationId);

        // The follower reads nothing until the generation is over: all but its last four frames were dropped here.
        var outcome = await RunAsync(host, job);
        Assert.True(outcome.ChunkCount > 10, $"only {outcome.ChunkCount} chunks");
        var followed = new List<GenerationFrame>();
        using (var timeout = new CancellationTokenSource(s_wait))
        {
            await foreach (var f in host.Get<GenerationStreamReader>().FollowAsync(live, TimeSpan.FromSeconds(5), timeout.Token))
            {
                followed.Add(f);
            }
        }

        AssertConsecutive(followed, FrameTypes.Completed);
        Assert.Equal(outcome.ChunkCount + 2, followed.Count);
        Assert.Equal(outcome.Text, string.Concat(followed.Select(f => f.Delta)));
    }

    [Fact]
    public async Task ADisposedFollowerEndsAndReleasesItsGeneration()
    {
        await using var host = await LlmHost.StartAsync(TestConfig.Fast(), redis.Redis);
        var feed = host.Get<GenerationFeed>();
        var generationId = Guid.CreateVersion7();
        var live = feed.Open(generationId);
        Assert.Throws<InvalidOperationException>(() => feed.Open(generationId));

        live.Dispose();
        var followed = new List<GenerationFrame>();
        await foreach (var f in host.Get<GenerationStreamReader>().FollowAsync(live, TimeSpan.FromSeconds(5)))
        {
            followed.Add(f);
        }

        Assert.Empty(followed);
        feed.Open(generationId).Dispose();
    }

    [Fact]
    public async Task ReplayAfterSeqReturnsExactlyTheMissingFrames()
    {
        await using var host = await LlmHost.StartAsync(TestConfig.Fast(), redis.Redis);
        var job = Job(host);
        await RunAsync(host, job);
        var reader = host.Get<GenerationStreamReader>();

        var all = await reader.ReadAfterAsync(job.GenerationId, -1);
        var rest = await reader.ReadAfterAsync(job.GenerationId, 2);

        AssertConsecutive(all, FrameTypes.Completed);
        Assert.Equal(all.Skip(3).Select(f => f.ToJson()), rest.Select(f => f.ToJson()));
        Assert.Empty(await reader.ReadAfterAsync(job.GenerationId, all[^1].Seq));
    }

    [Fact]
    public async Task FollowDuringGenerationResumesWithoutGapOrDuplicate()
    {
        var config = TestConfig.Fast();
        config["Llm:Local:TokensPerSecond"] = "100";
        await using var host = await LlmHost.StartAsync(config, redis.Redis);
        var job = Job(host);
        await using var collector = await FrameCollector.StartAsync(redis.Redis, job.ConversationId);
        var completion = await host.Get<GenerationQueue>().EnqueueAsync(job, CancellationToken.None);
        // Frames beyond seq 1 exist, so the follower below replays some before it goes live.
        await WaitUntilAsync(() => collector.Frames.Any(f => f.Seq >= 3));

        // A client that saw up to seq 1 reconnects while the generation is still running.
        var resumed = new List<GenerationFrame>();
        using var timeout = new CancellationTokenSource(s_wait);
        await foreach (var f in host.Get<GenerationStreamReader>().FollowAsync(job.ConversationId, job.GenerationId, 1, TimeSpan.FromSeconds(5), timeout.Token))
        {
            resumed.Add(f);
        }

        var outcome = await completion.WaitAsync(s_wait);
        Assert.True(outcome.Status == GenerationStatus.Completed, $"{outcome.Status}: {outcome.ErrorCode}");
        Assert.Equal(Enumerable.Range(2, (int)outcome.ChunkCount).Select(i => (long)i), resumed.Select(f => f.Seq));
        Assert.Equal(FrameTypes.Completed, resumed[^1].Type);
    }

    [Fact]
    public async Task CancelFromAnotherReplicaThroughRedisEndsWithCancelledFrameAndPartialText()
    {
        var config = TestConfig.Fast();
        config["Llm:Local:TokensPerSecond"] = "20";
        config["Llm:Local:MinReplyTokens"] = "400";
        config["Llm:Local:MaxOutputTokens"] = "1000";
        await using var host = await LlmHost.StartAsync(config, redis.Redis);
        var job = Job(host);
        await using var collector = await FrameCollector.StartAsync(redis.Redis, job.ConversationId);
        var completion = await host.Get<GenerationQueue>().EnqueueAsync(job, CancellationToken.None);
        await collector.FirstChunk;

        // Another process: its own connection, publishing on the cancel channel.
        await using (var other = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redis.Port}"))
        {
            await new GenerationCancelBus(other).PublishAsync(job.GenerationId);
        }

        var outcome = await completion.WaitAsync(s_wait);
        await collector.Terminal;

        Assert.Equal(GenerationStatus.Cancelled, outcome.Status);
        var frames = collector.Frames.ToList();
        AssertConsecutive(frames, FrameTypes.Cancelled);
        Assert.InRange(outcome.ChunkCount, 1, 399);
        var (call, stored) = host.Store.For(job.GenerationId)[^1];
        Assert.Equal("cancelled", call);
        Assert.False(string.IsNullOrEmpty(stored!.Text));
        Assert.Equal(string.Concat(frames.Select(f => f.Delta)), stored.Text);
    }

    [Fact]
    public async Task StreamCutMidwayFailsAndStoresPartialText()
    {
        var config = TestConfig.Fast().WithProvider("openai", ProviderTypes.OpenAI, new Uri(_upstream.BaseUri, "v1/"));
        config["Llm:Timeouts:Idle"] = "00:00:05";
        await using var host = await LlmHost.StartAsync(config, redis.Redis);
        var cut = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _upstream.Enqueue(new StreamReply(["Partial", " answer"], StreamEnd.Cut, CutWhen: cut.Task));
        var job = Job(host);
        await using var collector = await FrameCollector.StartAsync(redis.Redis, job.ConversationId);

        var completion = await host.Get<GenerationQueue>().EnqueueAsync(job, CancellationToken.None);
        await WaitUntilAsync(() => collector.Frames.Count(f => f.Type == FrameTypes.Chunk) == 2);
        var cutAt = DateTime.UtcNow;
        cut.SetResult();
        var outcome = await completion.WaitAsync(s_wait);
        await collector.Terminal;

        Assert.Equal(GenerationStatus.Failed, outcome.Status);
        Assert.Equal(LlmErrorCodes.StreamInterrupted, outcome.ErrorCode);
        var frames = collector.Frames.ToList();
        AssertConsecutive(frames, FrameTypes.Failed);
        Assert.Equal(LlmErrorCodes.StreamInterrupted, frames[^1].Code);
        var (call, stored) = host.Store.For(job.GenerationId)[^1];
        Assert.Equal("failed", call);
        Assert.Equal("Partial answer", stored!.Text);
        Assert.Equal(1, _upstream.Requests);
        Assert.True(DateTime.UtcNow - cutAt < TimeSpan.FromSeconds(4), "a cut is detected at once, not by the idle timeout (5 s)");
    }

    [Fact]
    public async Task StalledStreamFailsWithIdleTimeoutAndStoresPartialText()
    {
        var config = TestConfig.Fast().WithProvider("openai", ProviderTypes.OpenAI, new Uri(_upstream.BaseUri, "v1/"));
        config["Llm:Timeouts:Idle"] = "00:00:00.500";
        await using var host = await LlmHost.StartAsync(config, redis.Redis);
        _upstream.Enqueue(new StreamReply(["Thinking"], StreamEnd.Stall));
        var job = Job(host);

        var outcome = await RunAsync(host, job);

        Assert.Equal(GenerationStatus.Failed, outcome.Status);
        Assert.Equal(LlmErrorCodes.IdleTimeout, outcome.ErrorCode);
        Assert.Equal("Thinking", host.Store.For(job.GenerationId)[^1].Outcome!.Text);
    }

    [Fact]
    public async Task FailureBeforeFirstTokenFallsBackToNextProvider()
    {
        await using var host = await StartWithFailingPrimaryAsync();
        var job = Job(host);
        await using var collector = await FrameCollector.StartAsync(redis.Redis, job.ConversationId);

        var outcome = await RunAsync(host, job);
        await collector.Terminal;

        Assert.Equal(GenerationStatus.Completed, outcome.Status);
        Assert.Equal("Hello from the upstream", outcome.Text);
        Assert.Equal("backup", outcome.Provider);
        Assert.Equal(["primary/gpt-4o-mini (upstream_unavailable)", "backup/claude-test"], outcome.Attempts);
        var frames = collector.Frames.ToList();
        AssertConsecutive(frames, FrameTypes.Completed);
        Assert.Equal("primary", frames[0].Provider);
        Assert.Equal("backup", frames[^1].Provider);
        Assert.Equal(4, _upstream.Requests);
    }

    [Fact]
    public async Task EveryRouteFailingEndsFailedNamingEveryRouteTried()
    {
        var config = TestConfig.Fast()
            .WithProvider("primary", ProviderTypes.OpenAI, new Uri(_upstream.BaseUri, "v1/"))
            .WithProvider("backup", ProviderTypes.Ollama, _upstream.BaseUri, key: null, model: "llama3.2");
        config["Llm:DefaultProvider"] = "primary";
        config["Llm:Fallback:0"] = "backup";
        config["Llm:Fallback:1"] = "local";
        config["Llm:Local:Enabled"] = "false";
        await using var host = await LlmHost.StartAsync(config, redis.Redis);
        _upstream.Enqueue(new StatusReply(401), new StatusReply(404));
        var job = Job(host);

        var outcome = await RunAsync(host, job);

        Assert.Equal(GenerationStatus.Failed, outcome.Status);
        Assert.Equal(LlmErrorCodes.AllProvidersFailed, outcome.ErrorCode);
        Assert.Contains("primary/gpt-4o-mini (upstream_rejected)", outcome.ErrorMessage);
        Assert.Contains("backup/llama3.2 (upstream_rejected)", outcome.ErrorMessage);
        Assert.Equal("", host.Store.For(job.GenerationId)[^1].Outcome!.Text);
    }

    [Fact]
    public async Task TheProviderIsCalledBeforeTheCommitButNothingIsPublishedOrStoredUntilIt()
    {
        var config = TestConfig.Fast().WithProvider("primary", ProviderTypes.OpenAI, new Uri(_upstream.BaseUri, "v1/"));
        config["Llm:DefaultProvider"] = "primary";
        await using var host = await LlmHost.StartAsync(config, redis.Redis);
        var job = Job(host);
        await using var collector = await FrameCollector.StartAsync(redis.Redis, job.ConversationId);

        var outcome = await RunGatedAsync(host, job, collector, providerRequestsBeforeCommit: 1);

        Assert.Equal(GenerationStatus.Completed, outcome.Status);
        Assert.Equal("Hello from the upstream", outcome.Text);
        AssertConsecutive(collector.Frames.ToList(), FrameTypes.Completed);
        Assert.Equal(["streaming", "completed"], host.Store.For(job.GenerationId).Select(c => c.Call));
        Assert.Equal(1, _upstream.Requests);
    }

    [Fact]
    public async Task APrimaryThatFailsBeforeTheCommitStillFallsBackAfterIt()
    {
        await using var host = await StartWithFailingPrimaryAsync();
        var job = Job(host);
        await using var collector = await FrameCollector.StartAsync(redis.Redis, job.ConversationId);

        // Every attempt on the primary fails while the commit is still pending; the backup is not called before it.
        var outcome = await RunGatedAsync(host, job, collector, providerRequestsBeforeCommit: 3);

        Assert.Equal(GenerationStatus.Completed, outcome.Status);
        Assert.Equal("backup", outcome.Provider);
        Assert.Equal(["primary/gpt-4o-mini (upstream_unavailable)", "backup/claude-test"], outcome.Attempts);
        AssertConsecutive(collector.Frames.ToList(), FrameTypes.Completed);
        Assert.Equal(4, _upstream.Requests);
    }

    [Fact]
    public async Task AJobWhoseMessagesWereNotStoredIsDroppedWithoutAFrameOrAWrite()
    {
        var config = TestConfig.Fast().WithProvider("primary", ProviderTypes.OpenAI, new Uri(_upstream.BaseUri, "v1/"));
        config["Llm:DefaultProvider"] = "primary";
        await using var host = await LlmHost.StartAsync(config, redis.Redis);
        // The provider stalls after its first event: dropping the job must not wait for it.
        _upstream.Enqueue(new StreamReply([], StreamEnd.Stall));
        var stored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var job = Job(host) with { Persisted = stored.Task };
        await using var collector = await FrameCollector.StartAsync(redis.Redis, job.ConversationId);

        var completion = await host.Get<GenerationQueue>().EnqueueAsync(job, CancellationToken.None);
        await WaitUntilAsync(() => _upstream.Requests == 1);
        stored.SetCanceled();
        var outcome = await completion.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(GenerationStatus.Cancelled, outcome.Status);
        Assert.Equal(GenerationRunner.NotStoredCode, outcome.ErrorCode);
        Assert.Equal("", outcome.Text);
        Assert.Empty(await FramesSoFarAsync(collector, job.ConversationId));
        Assert.False(await redis.Redis.GetDatabase().KeyExistsAsync(RedisKeys.GenerationStream(job.GenerationId)));
        Assert.Empty(host.Store.For(job.GenerationId));
    }

    /// <summary>
    /// Queues <paramref name="job"/> gated on a commit that has not happened, waits until the upstream has seen
    /// <paramref name="providerRequestsBeforeCommit"/> requests (and no more), checks that nothing was published or
    /// stored meanwhile, then lets the commit succeed and returns the outcome once the terminal frame is out.
    /// </summary>
    private async Task<GenerationOutcome> RunGatedAsync(LlmHost host, GenerationJob job, FrameCollector collector, int providerRequestsBeforeCommit)
    {
        var stored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var completion = await host.Get<GenerationQueue>().EnqueueAsync(job with { Persisted = stored.Task }, CancellationToken.None);
        // The provider has answered every request it got: a runner that did not wait for the commit would be publishing.
        await WaitUntilAsync(() => _upstream.Answered == providerRequestsBeforeCommit);
        Assert.Empty(await FramesSoFarAsync(collector, job.ConversationId));
        Assert.Equal(providerRequestsBeforeCommit, _upstream.Requests);
        Assert.False(await redis.Redis.GetDatabase().KeyExistsAsync(RedisKeys.GenerationStream(job.GenerationId)));
        Assert.Empty(host.Store.For(job.GenerationId));
        Assert.False(completion.IsCompleted);

        stored.SetResult();
        var outcome = await completion.WaitAsync(s_wait);
        await collector.Terminal;
        return outcome;
    }

    /// <summary>A host routing to "primary" (OpenAI wire format) with "backup" (Anthropic's) as its fallback, and the
    /// upstream scripted so that every attempt on the primary fails (500, 502, 503).</summary>
    private async Task<LlmHost> StartWithFailingPrimaryAsync()
    {
        var config = TestConfig.Fast()
            .WithProvider("primary", ProviderTypes.OpenAI, new Uri(_upstream.BaseUri, "v1/"))
            .WithProvider("backup", ProviderTypes.Anthropic, _upstream.BaseUri, model: "claude-test");
        config["Llm:DefaultProvider"] = "primary";
        config["Llm:Fallback:0"] = "backup";
        var host = await LlmHost.StartAsync(config, redis.Redis);
        _upstream.Enqueue(new StatusReply(500), new StatusReply(502), new StatusReply(503));
        return host;
    }

    /// <summary>
    /// The frames published on the conversation's channel so far: publishes a marker through the runner's own connection
    /// and waits for it, so every frame the runner published before is in the collector (a channel delivers in order).
    /// </summary>
    private async Task<List<GenerationFrame>> FramesSoFarAsync(FrameCollector collector, Guid conversationId)
    {
        var marker = new GenerationFrame { Type = FrameCollector.MarkerType, ConversationId = conversationId, GenerationId = Guid.CreateVersion7(), Seq = 0 };
        await redis.Redis.GetSubscriber().PublishAsync(RedisKeys.ConversationChannel(conversationId), marker.ToJson());
        await WaitUntilAsync(() => collector.Markers.Contains(marker.GenerationId));
        return collector.Frames.ToList();
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(s_wait);
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }

    [Fact]
    public async Task CancelArrivingBeforeTheJobStartsIsApplied()
    {
        await using var host = await LlmHost.StartAsync(TestConfig.Fast(), redis.Redis);
        var job = Job(host);
        await host.Get<GenerationCancellation>().RequestCancelAsync(job.GenerationId);

        var outcome = await RunAsync(host, job);

        Assert.Equal(GenerationStatus.Cancelled, outcome.Status);
        Assert.Equal(0, outcome.ChunkCount);
    }

    [Fact]
    public async Task ShutdownEndsARunningGenerationAsFailedWithPartialText()
    {
        var config = TestConfig.Fast();
        config["Llm:Local:TokensPerSecond"] = "20";
        config["Llm:Local:MinReplyTokens"] = "400";
        config["Llm:Local:MaxOutputTokens"] = "1000";
        var host = await LlmHost.StartAsync(config, redis.Redis);
        var job = Job(host);
        await using var collector = await FrameCollector.StartAsync(redis.Redis, job.ConversationId);
        var completion = await host.Get<GenerationQueue>().EnqueueAsync(job, CancellationToken.None);
        await collector.FirstChunk;
        var store = host.Store;

        await host.DisposeAsync();
        var outcome = await completion.WaitAsync(s_wait);

        Assert.Equal(GenerationStatus.Failed, outcome.Status);
        Assert.Equal(LlmErrorCodes.ServerShutdown, outcome.ErrorCode);
        Assert.False(string.IsNullOrEmpty(outcome.Text));
        Assert.Equal("failed", store.For(job.GenerationId)[^1].Call);
    }

    /// <summary>A long, fast generation (thousands of chunks) reaches the stream whole. How fast is for bench/, not for a
    /// test: the rate is printed, never asserted.</summary>
    [Fact]
    public async Task ALongFastGenerationReachesTheStreamWhole()
    {
        var config = TestConfig.Fast();
        config["Llm:Local:TokensPerSecond"] = "100000";
        config["Llm:Local:MinReplyTokens"] = "5000";
        config["Llm:Local:MaxOutputTokens"] = "6000";
        await using var host = await LlmHost.StartAsync(config, redis.Redis);
        var job = Job(host);

        var sw = System.Diagnostics.Stopwatch.StartNew();
        var outcome = await RunAsync(host, job);
        sw.Stop();

        Assert.Equal(GenerationStatus.Completed, outcome.Status);
        Assert.True(outcome.ChunkCount >= 5000);
        output.WriteLine($"{outcome.ChunkCount} chunks in {sw.ElapsedMilliseconds} ms (XADD+PUBLISH each)");
        Assert.Equal(outcome.ChunkCount + 2, await redis.Redis.GetDatabase().StreamLengthAsync(RedisKeys.GenerationStream(job.GenerationId)));
    }

    [Fact]
    public async Task StoreFailingAtStartStillEndsTheStreamAtSeqOne()
    {
        await using var host = await LlmHost.StartAsync(TestConfig.Fast(), redis.Redis);
        host.Store.FailMarkStreaming = true;
        var job = Job(host);

        var outcome = await RunAsync(host, job);

        Assert.Equal(GenerationStatus.Failed, outcome.Status);
        Assert.Equal("internal_error", outcome.ErrorCode);
        var frames = await host.Get<GenerationStreamReader>().ReadAfterAsync(job.GenerationId, -1);
        Assert.Equal([FrameTypes.Started, FrameTypes.Failed], frames.Select(f => f.Type));
        Assert.Equal([0L, 1L], frames.Select(f => f.Seq));
        Assert.Equal("The generation failed.", frames[1].Message);
    }

    [Fact]
    public async Task CancelStopsAStalledAnthropicStreamAtOnce()
    {
        var config = TestConfig.Fast().WithProvider("claude", ProviderTypes.Anthropic, _upstream.BaseUri, model: "claude-test");
        config["Llm:Timeouts:Idle"] = "00:01:00";
        await using var host = await LlmHost.StartAsync(config, redis.Redis);
        _upstream.Enqueue(new StreamReply(["Thinking"], StreamEnd.Stall));
        var job = Job(host);
        await using var collector = await FrameCollector.StartAsync(redis.Redis, job.ConversationId);
        var completion = await host.Get<GenerationQueue>().EnqueueAsync(job, CancellationToken.None);
        await collector.FirstChunk;

        var sw = System.Diagnostics.Stopwatch.StartNew();
        await host.Get<GenerationCancellation>().RequestCancelAsync(job.GenerationId);
        var outcome = await completion.WaitAsync(s_wait);

        Assert.Equal(GenerationStatus.Cancelled, outcome.Status);
        Assert.Equal("Thinking", outcome.Text);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"cancel took {sw.ElapsedMilliseconds} ms");
        Assert.Equal("cancelled", host.Store.For(job.GenerationId)[^1].Call);
    }

    [Fact]
    public void FullQueueRefusesNewJobs()
    {
        var options = Microsoft.Extensions.Options.Options.Create(new LlmOptions { Generation = new GenerationOptions { QueueCapacity = 1 } });
        using var meters = new MeterFactoryStub();
        var leases = new GenerationLeases(options, new GenerationMetrics(meters), TimeProvider.System);
        var queue = new GenerationQueue(options, leases);
        var plan = new RoutePlan([new ModelDescriptor("local", "local", "chat-dev", [], 1000, 100, TokenCounter.Estimate)]);
        GenerationJob NewJob() => new()
        {
            ConversationId = Guid.NewGuid(), GenerationId = Guid.NewGuid(), AssistantMessageId = Guid.NewGuid(), Route = plan, Messages = [],
        };

        Assert.True(queue.TryEnqueue(NewJob(), out _));
        Assert.False(queue.TryEnqueue(NewJob(), out _));
        Assert.Equal(1, queue.Pending);
        // The refused job is not leased: only the queued one is renewed.
        Assert.Equal(1, leases.Count);
    }
}
