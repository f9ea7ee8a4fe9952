using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Chat.IntegrationTests;

/// <summary>
/// An app host of its own (gateway, two chat-streaming replicas on <see cref="StreamingApiStub"/>, real Redis) for a test
/// that kills Redis: sharing <see cref="StreamingAppFixture"/> would disturb every other streaming test.
/// </summary>
public sealed class StreamingRedisOutageFixture : IAsyncLifetime
{
    public DistributedApplication App { get; private set; } = null!;

    public StreamingApiStub Api { get; private set; } = null!;

    public Uri GatewayUri { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Api = await StreamingApiStub.StartAsync();
        using var cts = new CancellationTokenSource(ChatAppFixture.StartTimeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Chat_AppHost>(
            ["--Infrastructure:Ephemeral=true", $"--Parameters:jwt-signing-key={TestTokens.SigningKey}"], cts.Token);
        builder.Services.AddLogging(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Information);
            logging.AddFilter("Aspire.Hosting.Dcp", LogLevel.Warning);
            logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
            logging.AddSimpleConsole();
        });
        var streaming = builder.Resources.OfType<ProjectResource>().Single(r => r.Name == "chat-streaming");
        builder.CreateResourceBuilder(streaming).WithEnvironment("Streaming__ChatApiAddress", Api.Address.ToString());
        App = await builder.BuildAsync(cts.Token);
        await App.StartAsync(cts.Token);
        var notifications = App.Services.GetRequiredService<ResourceNotificationService>();
        foreach (var name in new[] { "cache", "chat-streaming", "gateway" })
        {
            await notifications.WaitForResourceHealthyAsync(name, cts.Token);
        }
        GatewayUri = App.GetEndpoint("gateway", "http");
    }

    public async Task<ConnectionMultiplexer> ConnectRedisAsync()
    {
        var options = ConfigurationOptions.Parse(await App.GetConnectionStringAsync("cache") ?? throw new InvalidOperationException("No cache connection string."));
        options.AbortOnConnectFail = false;
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    /// <summary>The Redis resource's id and the pid of its redis-server process.</summary>
    public async Task<(string ResourceId, int Pid)> RedisProcessAsync()
    {
        var notifications = App.Services.GetRequiredService<ResourceNotificationService>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var e in notifications.WatchAsync(cts.Token))
        {
            if (e.Resource.Name == "cache"
                && e.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value?.ToString() is { Length: > 0 } pid)
            {
                return (e.ResourceId, int.Parse(pid, CultureInfo.InvariantCulture));
            }
        }
        throw new InvalidOperationException("No pid for the cache resource.");
    }

    public async Task DisposeAsync()
    {
        if (Api is not null)
        {
            await Api.DisposeAsync();
        }
        if (App is not null)
        {
            await App.StopAsync().WaitAsync(ChatAppFixture.StepTimeout);
            await App.DisposeAsync().AsTask().WaitAsync(ChatAppFixture.StepTimeout);
        }
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
        var runnerRedis = await fixture.ConnectRedisAsync();
        await using (runnerRedis)
        {
            var runner = new StreamingGenerations(runnerRedis);
            await runner.PublishAsync(StreamingGenerations.Started(conversationId, generationId, messageId));
            for (var seq = 1; seq <= before; seq++)
            {
                await runner.PublishAsync(StreamingGenerations.Chunk(conversationId, generationId, seq));
            }
            while (frames.Count == 0 || !HasSeq(frames[^1], before))
            {
                frames.Add(await socket.NextAsync());
            }
        }

        var (cache, pid) = await fixture.RedisProcessAsync();
        output.WriteLine($"killing redis-server {pid} ({cache})");
        System.Diagnostics.Process.GetProcessById(pid).Kill();
        var interrupted = await socket.NextAsync("stream.interrupted", TimeSpan.FromSeconds(30));
        frames.Add(interrupted);
        Assert.Equal(conversationId, interrupted.GetProperty("conversationId").GetGuid());

        using (var start = new CancellationTokenSource(ChatAppFixture.StepTimeout))
        {
            var started = await fixture.App.ResourceCommands.ExecuteCommandAsync(cache, "resource-start", start.Token);
            output.WriteLine($"resource-start: success={started.Success} {started.Message}");
        }

        // The runner, once Redis answers again: re-creates the stream from seq 0 and goes on, XADD before PUBLISH.
        runnerRedis = await fixture.ConnectRedisAsync();
        await using (runnerRedis)
        {
            var runner = new StreamingGenerations(runnerRedis);
            using (var answer = new CancellationTokenSource(ChatAppFixture.StepTimeout))
            {
                while (!runnerRedis.IsConnected)
                {
                    await Task.Delay(100, answer.Token); // bounded polling of the restarted server
                }
            }
            await runner.PublishAsync(StreamingGenerations.Started(conversationId, generationId, messageId));
            for (var seq = 1; seq <= total; seq++)
            {
                await runner.PublishAsync(StreamingGenerations.Chunk(conversationId, generationId, seq));
            }
            await runner.PublishAsync(StreamingGenerations.Completed(conversationId, generationId, messageId, total + 1));

            var terminal = false;
            var restored = false;
            while (!terminal || !restored)
            {
                var frame = await socket.NextAsync(timeout: TimeSpan.FromSeconds(30));
                frames.Add(frame);
                terminal |= frame.GetProperty("type").GetString() == "generation.completed";
                restored |= frame.GetProperty("type").GetString() == "stream.restored";
            }
        }
        output.WriteLine(string.Join(" ", frames.Select(f => f.TryGetProperty("seq", out var s) ? s.ToString() : f.GetProperty("type").GetString())));

        Assert.Equal(Enumerable.Range(0, total + 2).Select(i => (long)i),
            frames.Where(f => f.TryGetProperty("seq", out _)).Select(f => f.GetProperty("seq").GetInt64()));
        var restoredFrame = Assert.Single(frames, f => f.GetProperty("type").GetString() == "stream.restored");
        Assert.True(restoredFrame.GetProperty("recovered").GetBoolean(), restoredFrame.ToString());
        Assert.Single(frames, f => f.GetProperty("type").GetString() == "stream.interrupted");
    }

    private static bool HasSeq(JsonElement frame, long seq) => frame.TryGetProperty("seq", out var s) && s.GetInt64() == seq;
}
