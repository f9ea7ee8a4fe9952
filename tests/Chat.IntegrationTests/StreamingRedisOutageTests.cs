using System.Text.Json;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Chat.IntegrationTests;

/// <summary>
/// An app host of its own (gateway, two chat-streaming replicas on <see cref="StreamingApiStub"/>, real Redis) for a test
/// that kills Redis: sharing <see cref="StreamingAppFixture"/>'s would disturb every other streaming test. The services
/// keep their own settings.
/// </summary>
public sealed class StreamingRedisOutageFixture() : StreamingAppFixture(testSettings: false)
{
    /// <summary>A connection of the test's own that keeps trying while Redis is down.</summary>
    public async Task<ConnectionMultiplexer> ConnectRedisAsync()
    {
        var options = ConfigurationOptions.Parse(await App.GetConnectionStringAsync("cache") ?? throw new InvalidOperationException("No cache connection string."));
        options.AbortOnConnectFail = false;
        return await ConnectionMultiplexer.ConnectAsync(options);
    }
}

/// <summary>Redis killed mid-generation and started again empty: the socket is told, then caught up, exactly once.</summary>
public sealed class StreamingRedisOutageTests(StreamingRedisOutageFixture fixture, ITestOutputHelper output) : IClassFixture<StreamingRedisOutageFixture>
{
    [Fact]
    public async Task RedisKilledMidGenerationAndRestartedEmptyLeavesTheSocketWithEverySeqExactlyOnce()
    {
        var (tenant, user) = ($"t-{Guid.NewGuid():N}", "otto");
        var token = TestTokens.Create(user, tenant);
        var conversationId = fixture.Api.AddConversation(tenant, user);
        var generationId = Guid.CreateVersion7();
        var messageId = Guid.CreateVersion7();
        const int before = 5;
        const int total = 20;

        await using var socket = await StreamingTestClient.ConnectAsync(fixture.GatewayUri, token);
        await socket.SendAsync(new { type = "subscribe", conversationId });
        await socket.NextAsync("subscribed");

        var frames = new List<JsonElement>();
        await PublishAsRunnerAsync(runner => runner.PublishOpenAsync(conversationId, generationId, messageId, before));
        while (frames.Count == 0 || !HasSeq(frames[^1], before))
        {
            frames.Add(await socket.NextAsync());
        }

        output.WriteLine($"killing redis-server {ResourceFaults.ServiceProcessId(fixture.App, "cache")}");
        await ResourceFaults.KillAsync(fixture.App, "cache");
        var interrupted = await socket.NextAsync("stream.interrupted", TimeSpan.FromSeconds(30));
        frames.Add(interrupted);
        Assert.Equal(conversationId, interrupted.GetProperty("conversationId").GetGuid());
        await ResourceFaults.StartAsync(fixture.App, "cache");

        // The runner, once Redis answers again: re-creates the stream from seq 0 and goes on, XADD before PUBLISH.
        await PublishAsRunnerAsync(async runner =>
        {
            await runner.PublishOpenAsync(conversationId, generationId, messageId, total);
            await runner.PublishAsync(StreamingGenerations.Completed(conversationId, generationId, messageId, total + 1));
        });
        var (terminal, restored) = (false, false);
        while (!terminal || !restored)
        {
            var frame = await socket.NextAsync(timeout: TimeSpan.FromSeconds(30));
            frames.Add(frame);
            terminal |= frame.GetProperty("type").GetString() == "generation.completed";
            restored |= frame.GetProperty("type").GetString() == "stream.restored";
        }
        output.WriteLine(string.Join(" ", frames.Select(f => f.TryGetProperty("seq", out var s) ? s.ToString() : f.GetProperty("type").GetString())));

        Assert.Equal(Enumerable.Range(0, total + 2).Select(i => (long)i),
            frames.Where(f => f.TryGetProperty("seq", out _)).Select(f => f.GetProperty("seq").GetInt64()));
        var restoredFrame = Assert.Single(frames, f => f.GetProperty("type").GetString() == "stream.restored");
        Assert.True(restoredFrame.GetProperty("recovered").GetBoolean(), restoredFrame.ToString());
        Assert.Single(frames, f => f.GetProperty("type").GetString() == "stream.interrupted");
    }

    /// <summary>Publishes as chat-api's generation runner would, over a Redis connection of its own (closed after).</summary>
    private async Task PublishAsRunnerAsync(Func<StreamingGenerations, Task> publish)
    {
        await using var redis = await fixture.ConnectRedisAsync();
        await Poll.UntilAsync(() => redis.IsConnected, ChatAppFixture.StepTimeout, "the runner's connection to Redis");
        await publish(new StreamingGenerations(redis));
    }

    private static bool HasSeq(JsonElement frame, long seq) => frame.TryGetProperty("seq", out var s) && s.GetInt64() == seq;
}
