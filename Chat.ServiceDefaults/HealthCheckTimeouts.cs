using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.Hosting;

/// <summary>Bounds on health checks (section <c>HealthChecks</c>), so <c>/health</c> answers while a dependency hangs.</summary>
public sealed class HealthCheckSettings
{
    public const string SectionName = "HealthChecks";

    /// <summary>
    /// The longest any one check may take before it counts as failed. Checks run in parallel, so <c>/health</c> answers
    /// within about this long even when a server accepts connections and never replies (SIGSTOPped, overloaded).
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Between 50 ms and 30 s (a range attribute on a TimeSpan is not trim-safe).</summary>
    public bool IsValid => Timeout >= TimeSpan.FromMilliseconds(50) && Timeout <= TimeSpan.FromSeconds(30);
}

/// <summary>
/// Runs a check with a deadline it cannot ignore. The health check service's own <c>Timeout</c> only cancels the token,
/// and some clients never look at it (StackExchange.Redis waits out its own timeout; Npgsql's cancellation needs the
/// server to answer), so the wait itself is bounded here.
/// </summary>
internal sealed class BoundedHealthCheck(IHealthCheck inner, TimeSpan timeout) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var check = inner.CheckHealthAsync(context, deadline.Token);
        try
        {
            return await check.WaitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The check goes on until its client gives up (its token is cancelled); only its failure is left to observe.
            _ = check.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            return new HealthCheckResult(context.Registration.FailureStatus, $"No answer within {timeout.TotalMilliseconds:0} ms.");
        }
    }

    /// <summary>Wraps every registered check (the services' own and the libraries'), each bounded by the smaller of its own timeout and the setting.</summary>
    internal static void BoundAll(HealthCheckServiceOptions options, HealthCheckSettings settings)
    {
        foreach (var registration in options.Registrations)
        {
            var own = registration.Timeout;
            var timeout = own > TimeSpan.Zero && own < settings.Timeout ? own : settings.Timeout;
            var factory = registration.Factory;
            registration.Factory = services => new BoundedHealthCheck(factory(services), timeout);
            registration.Timeout = timeout;
        }
    }
}
