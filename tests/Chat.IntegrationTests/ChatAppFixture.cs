using Microsoft.Extensions.DependencyInjection;

namespace Chat.IntegrationTests;

/// <summary>
/// Starts the real app host once for a test collection: PostgreSQL, Redis (throw-away data), the migration worker,
/// the API, two streaming replicas and the gateway. Every wait is bounded.
/// </summary>
public class ChatAppFixture : IAsyncLifetime
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(6);
    public static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);

    private readonly string[] _extraArgs;

    public ChatAppFixture()
        : this([])
    {
    }

    /// <summary>A fixture whose app host also gets <paramref name="extraArgs"/> (settings of its own, after the common ones).</summary>
    protected ChatAppFixture(string[] extraArgs) => _extraArgs = extraArgs;

    public DistributedApplication App { get; private set; } = null!;

    public ResourceNotificationService Notifications => App.Services.GetRequiredService<ResourceNotificationService>();

    /// <summary>The gateway: the one front door every client uses.</summary>
    public HttpClient Gateway { get; private set; } = null!;

    public Uri GatewayUri => Gateway.BaseAddress!;

    /// <summary>The one cross-origin frontend the gateway is configured to allow in tests.</summary>
    public const string AllowedOrigin = "https://frontend.example";

    /// <summary>Message sends one user may have in flight through the gateway in tests.</summary>
    public const int GenerationCap = 24;

    // --Conversations:PurgeInterval: the app host passes it to chat-api, whose retention purge then runs every 2 s.
    public async Task InitializeAsync()
    {
        using var cts = new CancellationTokenSource(StartTimeout);
        App = await TestAppHost.BuildAsync(
            [$"--Gateway:AllowedOrigins:0={AllowedOrigin}",
             "--Conversations:PurgeInterval=00:00:02",
             // Replies of the local model last ~2 s, long enough to cancel or reload in the middle of one.
             "--Llm:Local:TokensPerSecond=60", "--Llm:Local:MinReplyTokens=120",
             // Tests post concurrently as one user; the cap itself is tested with this value.
             $"--Gateway:RateLimit:ConcurrentGenerationsPerUser={GenerationCap}", .. _extraArgs], configure: null, cts.Token);
        await TestAppHost.StartAsync(App, ["chat-api", "chat-streaming", "gateway"], cts.Token);

        Gateway = App.CreateHttpClient("gateway", "http");
        Gateway.Timeout = StepTimeout;
    }

    public async Task<string> ConnectionStringAsync(string resource)
    {
        using var cts = new CancellationTokenSource(StepTimeout);
        return await App.GetConnectionStringAsync(resource, cts.Token)
            ?? throw new InvalidOperationException($"No connection string for {resource}.");
    }

    public async Task DisposeAsync()
    {
        Gateway?.Dispose();
        await TestAppHost.StopAsync(App);
    }
}

[CollectionDefinition(Name)]
public sealed class ChatAppCollection : ICollectionFixture<ChatAppFixture>
{
    public const string Name = "chat-app";
}
