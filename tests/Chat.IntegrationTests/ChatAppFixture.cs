using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.IntegrationTests;

/// <summary>
/// Starts the real app host once for a test collection: PostgreSQL, Redis (throw-away data), the migration worker,
/// the API, two streaming replicas and the gateway. Every wait is bounded.
/// </summary>
public sealed class ChatAppFixture : IAsyncLifetime
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(4);
    public static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);

    public DistributedApplication App { get; private set; } = null!;

    public ResourceNotificationService Notifications => App.Services.GetRequiredService<ResourceNotificationService>();

    /// <summary>The gateway: the one front door every client uses.</summary>
    public HttpClient Gateway { get; private set; } = null!;

    public Uri GatewayUri => Gateway.BaseAddress!;

    public string[] ExtraArgs { get; init; } = [];

    /// <summary>The one cross-origin frontend the gateway is configured to allow in tests.</summary>
    public const string AllowedOrigin = "https://frontend.example";

    /// <summary>Message sends one user may have in flight through the gateway in tests.</summary>
    public const int GenerationCap = 24;

    // --Conversations:PurgeInterval: the app host passes it to chat-api, whose retention purge then runs every 2 s.
    public async Task InitializeAsync()
    {
        using var cts = new CancellationTokenSource(StartTimeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Chat_AppHost>(
            ["--Infrastructure:Ephemeral=true", $"--Parameters:jwt-signing-key={TestTokens.SigningKey}",
             $"--Gateway:AllowedOrigins:0={AllowedOrigin}",
             "--Conversations:PurgeInterval=00:00:02",
             // Replies of the local model last ~2 s, long enough to cancel or reload in the middle of one.
             "--Llm:Local:TokensPerSecond=60", "--Llm:Local:MinReplyTokens=120",
             // Tests post concurrently as one user; the cap itself is tested with this value.
             $"--Gateway:RateLimit:ConcurrentGenerationsPerUser={GenerationCap}", .. ExtraArgs], cts.Token);
        builder.Services.AddLogging(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Information);
            logging.AddFilter("Aspire.Hosting.Dcp", LogLevel.Warning);
            logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
            // Readiness probes fail until the servers are up; the dashboard shows health, the log needn't.
            logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.Critical);
            logging.AddSimpleConsole();
        });

        App = await builder.BuildAsync(cts.Token);
        await App.StartAsync(cts.Token);

        // Wait for the app, but fail at once (with the reason) when a service dies instead of timing out minutes later.
        var ready = WaitUntilReadyAsync(cts.Token);
        var crashed = FirstCrashAsync(cts.Token);
        if (await Task.WhenAny(ready, crashed) == crashed)
        {
            throw new InvalidOperationException(await crashed);
        }
        await ready;

        Gateway = App.CreateHttpClient("gateway", "http");
        Gateway.Timeout = StepTimeout;
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        await Notifications.WaitForResourceAsync("migrations", KnownResourceStates.Finished, cancellationToken);
        foreach (var name in new[] { "chat-api", "chat-streaming", "gateway" })
        {
            await Notifications.WaitForResourceHealthyAsync(name, cancellationToken);
        }
    }

    private async Task<string> FirstCrashAsync(CancellationToken cancellationToken)
    {
        await foreach (var e in Notifications.WatchAsync(cancellationToken))
        {
            var state = e.Snapshot.State?.Text;
            var failedMigration = e.Resource.Name == "migrations" && state == KnownResourceStates.Finished && e.Snapshot.ExitCode is not (null or 0);
            var died = e.Resource.Name != "migrations" && !e.Resource.Name.EndsWith("-init", StringComparison.Ordinal)
                && (state == KnownResourceStates.Exited || state == KnownResourceStates.FailedToStart);
            if (failedMigration || died)
            {
                return $"Resource {e.Resource.Name} is {state} (exit code {e.Snapshot.ExitCode}) during start; see its log above.";
            }
        }
        return "The app host stopped while starting.";
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
        if (App is not null)
        {
            await App.StopAsync().WaitAsync(StepTimeout);
            await App.DisposeAsync().AsTask().WaitAsync(StepTimeout);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ChatAppCollection : ICollectionFixture<ChatAppFixture>
{
    public const string Name = "chat-app";
}
