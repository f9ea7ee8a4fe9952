using StackExchange.Redis;

namespace Chat.IntegrationTests;

/// <summary>
/// The whole app host (gateway, two chat-streaming replicas, real Redis) with chat-streaming pointed at
/// <see cref="StreamingApiStub"/> instead of Chat.Api, so the streaming tier is tested against the documented API
/// contract on its own. The tests in StreamingApiTests run the same flows against the real Chat.Api.
/// </summary>
public class StreamingAppFixture : IAsyncLifetime
{
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(2);
    // Long enough that a live client on a loaded CI machine is never mistaken for a dead one; short enough to test.
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(6);
    public const int SendQueueCapacity = 256;

    private readonly bool _testSettings;

    public StreamingAppFixture()
        : this(testSettings: true)
    {
    }

    /// <param name="testSettings">
    /// The shared fixture's short heartbeat, idle timeout and send queue, and a per-user request budget the load test
    /// cannot exhaust; without them, the services' own settings.
    /// </param>
    protected StreamingAppFixture(bool testSettings) => _testSettings = testSettings;

    public DistributedApplication App { get; private set; } = null!;

    public StreamingApiStub Api { get; private set; } = null!;

    public StreamingGenerations Generations { get; private set; } = null!;

    public Uri GatewayUri { get; private set; } = null!;

    /// <summary>chat-streaming itself (the orchestrator's proxy over its replicas), bypassing the gateway.</summary>
    public Uri StreamingUri { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Api = await StreamingApiStub.StartAsync();
        using var cts = new CancellationTokenSource(ChatAppFixture.StartTimeout);
        App = await TestAppHost.BuildAsync([], Configure, cts.Token);
        await TestAppHost.StartAsync(App, ["cache", "chat-streaming", "gateway"], cts.Token);
        GatewayUri = App.GetEndpoint("gateway", "http");
        StreamingUri = App.GetEndpoint("chat-streaming", "http");

        var redis = await ConnectionMultiplexer.ConnectAsync(
            await App.GetConnectionStringAsync("cache", cts.Token) ?? throw new InvalidOperationException("No cache connection string."));
        Generations = new StreamingGenerations(redis);
        Api.Generations = Generations;
        await Api.ListenForCancelsAsync();
    }

    public Task<StreamingTestClient> ConnectAsync(string token) => StreamingTestClient.ConnectAsync(GatewayUri, token);

    public async Task DisposeAsync()
    {
        if (Api is not null)
        {
            await Api.DisposeAsync();
        }
        await TestAppHost.StopAsync(App);
        if (Generations is not null)
        {
            await Generations.Redis.DisposeAsync();
        }
    }

    private void Configure(IDistributedApplicationTestingBuilder builder)
    {
        var streaming = builder.Project("chat-streaming").WithEnvironment("Streaming__ChatApiAddress", Api.Address.ToString());
        if (!_testSettings)
        {
            return;
        }
        streaming
            // Short timings so heartbeat, dead-peer and slow-consumer behaviour is observable within a test.
            .WithEnvironment("Streaming__HeartbeatInterval", HeartbeatInterval.ToString())
            .WithEnvironment("Streaming__IdleTimeout", IdleTimeout.ToString())
            .WithEnvironment("Streaming__SendQueueCapacity", SendQueueCapacity.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // The load test opens ~2,000 sockets as one user; the gateway's per-user request budget is not what it measures.
        builder.Project("gateway").WithEnvironment("Gateway__RateLimit__UserPermits", "1000000");
    }
}

[CollectionDefinition(Name)]
public sealed class StreamingAppCollection : ICollectionFixture<StreamingAppFixture>
{
    public const string Name = "chat-streaming";
}
