using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.IntegrationTests;

/// <summary>
/// How every fixture starts the real app host: throw-away data, the tests' signing key and log filters, plus the
/// fixture's own arguments and resource settings. Starting fails at once, with the reason, when a resource dies instead
/// of timing out minutes later. Every wait is bounded by the caller's token.
/// </summary>
public static class TestAppHost
{
    /// <summary>Builds the app host with <paramref name="args"/> after the common ones; <paramref name="configure"/> may change resources.</summary>
    public static async Task<DistributedApplication> BuildAsync(
        IEnumerable<string> args, Action<IDistributedApplicationTestingBuilder>? configure, CancellationToken cancellationToken)
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Chat_AppHost>(
            ["--Infrastructure:Ephemeral=true", $"--Parameters:jwt-signing-key={TestTokens.SigningKey}", .. args], cancellationToken);
        builder.Services.AddLogging(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Information);
            logging.AddFilter("Aspire.Hosting.Dcp", LogLevel.Warning);
            logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
            // Readiness probes fail until the servers are up; the dashboard shows health, the log needn't.
            logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.Critical);
            logging.AddSimpleConsole();
        });
        configure?.Invoke(builder);
        return await builder.BuildAsync(cancellationToken);
    }

    /// <summary>The builder for one of the app host's projects, to add settings to it.</summary>
    public static IResourceBuilder<ProjectResource> Project(this IDistributedApplicationTestingBuilder builder, string name) =>
        builder.CreateResourceBuilder(builder.Resources.OfType<ProjectResource>().Single(r => r.Name == name));

    /// <summary>Starts <paramref name="app"/> and waits until the migrations have finished and every one of <paramref name="healthy"/> is healthy.</summary>
    public static async Task StartAsync(DistributedApplication app, IReadOnlyList<string> healthy, CancellationToken cancellationToken)
    {
        await app.StartAsync(cancellationToken);
        var notifications = app.Services.GetRequiredService<ResourceNotificationService>();
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var ready = WaitUntilReadyAsync(notifications, healthy, cancellationToken);
        var crashed = FirstCrashAsync(notifications, watching.Token);
        if (await Task.WhenAny(ready, crashed) == crashed)
        {
            throw new InvalidOperationException(await crashed);
        }
        await ready;
        await watching.CancelAsync();
        try
        {
            await crashed;
        }
        catch (OperationCanceledException)
        {
            // Stopped watching: the app is up.
        }
    }

    public static async Task StopAsync(DistributedApplication? app)
    {
        if (app is not null)
        {
            await app.StopAsync().WaitAsync(ChatAppFixture.StepTimeout);
            await app.DisposeAsync().AsTask().WaitAsync(ChatAppFixture.StepTimeout);
        }
    }

    private static async Task WaitUntilReadyAsync(ResourceNotificationService notifications, IReadOnlyList<string> healthy, CancellationToken cancellationToken)
    {
        await notifications.WaitForResourceAsync("migrations", KnownResourceStates.Finished, cancellationToken);
        foreach (var name in healthy)
        {
            await notifications.WaitForResourceHealthyAsync(name, cancellationToken);
        }
    }

    private static async Task<string> FirstCrashAsync(ResourceNotificationService notifications, CancellationToken cancellationToken)
    {
        await foreach (var e in notifications.WatchAsync(cancellationToken))
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
}
