using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Chat.IntegrationTests;

/// <summary>
/// Faults for integration tests against a running app host: kill a resource's process as a crash would, stop it or
/// start it again through the orchestrator, or freeze and thaw it. A resource is named by its name (<c>postgres</c>, <c>cache</c>,
/// <c>chat-api</c>) or, for one replica, by its resource id (<c>chat-streaming-abcdwxyz</c>; see
/// <see cref="StreamingReplicas.ResourceOfAsync"/>). The process is found from the resource snapshot's
/// <c>executable.pid</c>; for a project that is the <c>dotnet run</c> wrapper, and the fault goes to the service process
/// it runs. Every fault reaches the process's children too: a PostgreSQL postmaster's backends, checkpointer and so on.
/// Every wait is bounded by <see cref="Timeout"/>.
/// <para>
/// Verified by experiment (ResourceFaultsTests, 2026-12-03; PostgreSQL 15 and Redis 7.0 as local executables, Aspire 13.6):
/// the orchestrator does not restart a killed process, and its snapshot leaves <c>Running</c>; PostgreSQL killed with -9
/// (postmaster and backends) starts again through <c>resource-start</c> on the same port, runs crash recovery on the
/// app host's throw-away data directory (kept while the app host runs) and serves the rows written before the kill;
/// Redis killed with -9 starts again on the same port, empty (local mode has no persistence); a service that held
/// pooled connections to either reconnects by itself once it is back (chat-api's <c>/health</c> goes unhealthy, then
/// healthy). SIGSTOP of the postmaster and its children loses nothing: queries wait and complete after SIGCONT.
/// With only the postmaster killed (its backends left alive, holding its output pipes), the orchestrator went on
/// reporting it Running for a minute, so it could not be started again: hence the whole tree. This machine's init does
/// not reap orphans, so killed children may linger as zombies; they hold nothing.
/// </para>
/// </summary>
public static class ResourceFaults
{
    /// <summary>The bound on every wait here (a stop noticed, a start healthy, a killed process gone).</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private const int SigKill = 9;
    private const int SigCont = 18;
    private const int SigStop = 19;

    /// <summary>
    /// SIGKILLs the resource's process and every process under it, then waits until all of them are gone and the
    /// orchestrator no longer reports the resource running. Nothing restarts it: call <see cref="StartAsync"/>.
    /// </summary>
    public static async Task KillAsync(DistributedApplication app, string resource)
    {
        var root = ServiceProcessId(app, resource);
        // Stop the root first so it cannot fork (a postmaster starting a backend) while its tree is read and killed.
        Signal(root, SigStop);
        var tree = ProcFs.ProcessTree(root);
        foreach (var pid in Enumerable.Reverse(tree))
        {
            Signal(pid, SigKill);
        }

        await Poll.UntilAsync(() => tree.All(ProcFs.IsGone), Timeout, $"processes {string.Join(',', tree)} of {resource} to exit", TimeSpan.FromMilliseconds(50));
        using var cts = new CancellationTokenSource(Timeout);
        await WaitForStateAsync(app, resource, s => s != KnownResourceStates.Running, "to leave Running", Timeout, cts.Token);
        // The test process's own pooled connections to a killed PostgreSQL are dead; the next test must not lease one.
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>
    /// Starts a stopped (or killed) resource through the orchestrator and waits until it is running and healthy, at most
    /// <paramref name="timeout"/> (default <see cref="Timeout"/>; several services starting at once on a busy machine need more).
    /// </summary>
    public static async Task StartAsync(DistributedApplication app, string resource, TimeSpan? timeout = null)
    {
        var bound = timeout ?? Timeout;
        using var cts = new CancellationTokenSource(bound);
        var id = ResourceId(app, resource);
        var result = await app.ResourceCommands.ExecuteCommandAsync(id, "resource-start", cts.Token);
        Assert.True(result.Success, $"resource-start {id}: {result.Message}");
        await WaitForStateAsync(app, id, s => s == KnownResourceStates.Running, "to run", bound, cts.Token, healthy: true);
    }

    /// <summary>
    /// Stops a resource through the orchestrator, as the dashboard's Stop does, and waits until it is reported stopped.
    /// Unlike a kill, the orchestrator's proxy then refuses connections to it at once.
    /// </summary>
    public static async Task StopAsync(DistributedApplication app, string resource)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var id = ResourceId(app, resource);
        // Not asserted: on machines whose init does not reap orphans the orchestrator may report a failure for a process
        // that did stop. The state it reports next is what counts.
        await app.ResourceCommands.ExecuteCommandAsync(id, "resource-stop", cts.Token);
        await WaitForStateAsync(app, id, s => s is not (null or "Running" or "Starting" or "Stopping"), "to stop", Timeout, cts.Token);
    }

    /// <summary>
    /// SIGSTOPs the resource's process and every process under it, and waits until each is stopped: it keeps its sockets
    /// and answers nothing.
    /// </summary>
    public static async Task PauseAsync(DistributedApplication app, string resource)
    {
        var root = ServiceProcessId(app, resource);
        Signal(root, SigStop);
        var tree = ProcFs.ProcessTree(root);
        foreach (var pid in tree.Skip(1))
        {
            Signal(pid, SigStop);
        }
        await Poll.UntilAsync(() => tree.All(pid => ProcFs.IsStopped(pid) || ProcFs.IsGone(pid)), Timeout, $"processes {string.Join(',', tree)} of {resource} to stop");
    }

    /// <summary>SIGCONTs what <see cref="PauseAsync"/> stopped, and waits until none is stopped any more.</summary>
    public static async Task ResumeAsync(DistributedApplication app, string resource)
    {
        var tree = ProcFs.ProcessTree(ServiceProcessId(app, resource));
        foreach (var pid in Enumerable.Reverse(tree))
        {
            Signal(pid, SigCont);
        }
        await Poll.UntilAsync(() => !tree.Any(ProcFs.IsStopped), Timeout, $"processes {string.Join(',', tree)} of {resource} to run again");
    }

    /// <summary>The process that really is the resource: <c>executable.pid</c>, or for a project the service under its <c>dotnet run</c>.</summary>
    public static int ServiceProcessId(DistributedApplication app, string resource)
    {
        var state = CurrentState(app, resource);
        var value = state.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value?.ToString();
        Assert.True(int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var pid),
            $"{resource} has no process id (state {state.Snapshot.State?.Text}).");
        // A project runs as `dotnet run --project …`, whose child is the service itself.
        while (ProcFs.IsDotnetRun(pid) && ProcFs.Children(pid).ToList() is [var child])
        {
            pid = child;
        }
        return pid;
    }

    /// <summary>The resource ids of every replica of <paramref name="name"/> (one for a resource without replicas), in a stable order.</summary>
    public static async Task<IReadOnlyList<string>> ReplicaIdsAsync(DistributedApplication app, string name)
    {
        var model = app.Services.GetRequiredService<DistributedApplicationModel>();
        var expected = model.Resources.Single(r => r.Name == name).Annotations.OfType<ReplicaAnnotation>().SingleOrDefault()?.Replicas ?? 1;
        var ids = new SortedSet<string>(StringComparer.Ordinal);
        using var cts = new CancellationTokenSource(Timeout);
        await foreach (var e in app.Services.GetRequiredService<ResourceNotificationService>().WatchAsync(cts.Token))
        {
            if (e.Resource.Name == name && ids.Add(e.ResourceId) && ids.Count == expected)
            {
                break;
            }
        }
        return [.. ids];
    }

    /// <summary>The resource's unique id (a replica's id is returned as given).</summary>
    public static string ResourceId(DistributedApplication app, string resource) => CurrentState(app, resource).ResourceId;

    private static ResourceEvent CurrentState(DistributedApplication app, string resource)
    {
        var notifications = app.Services.GetRequiredService<ResourceNotificationService>();
        Assert.True(notifications.TryGetCurrentState(resource, out var state),
            $"No resource '{resource}' (or it has replicas: name one by its resource id).");
        return state;
    }

    private static async Task WaitForStateAsync(
        DistributedApplication app, string resource, Func<string?, bool> state, string what, TimeSpan bound, CancellationToken cancellationToken,
        bool healthy = false)
    {
        var id = ResourceId(app, resource);
        var notifications = app.Services.GetRequiredService<ResourceNotificationService>();
        try
        {
            await foreach (var e in notifications.WatchAsync(cancellationToken))
            {
                if (e.ResourceId == id && state(e.Snapshot.State?.Text)
                    && (!healthy || e.Snapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        notifications.TryGetCurrentState(id, out var last);
        Assert.Fail($"{id} did not come {what} within {bound.TotalSeconds:0} s (state {last?.Snapshot.State?.Text}, health {last?.Snapshot.HealthStatus}).");
    }

    private static void Signal(int pid, int signal)
    {
        // ESRCH: it exited meanwhile, which is what a kill wants anyway.
        if (Kill(pid, signal) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != 3)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed with errno {errno}.");
        }
    }

    // DllImport rather than LibraryImport: the latter would make the whole test project compile with unsafe code.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Kill(int pid, int signal);
}
