using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Chat.Data;

/// <summary>
/// The <c>database</c> check: one <c>select 1</c> round trip, not retried. Not EF Core's <c>CanConnectAsync</c>: with
/// pooled connections that only hands out an idle connection, so it says "connected" for a server killed a moment ago,
/// and it runs under the retrying execution strategy. Bounded by its registration's timeout (the token here).
/// </summary>
internal sealed class DatabaseHealthCheck(IDbContextFactory<ChatDbContext> contexts) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        // Npgsql cancels a command on a frozen server by asking that server, and gives up only after its Cancellation
        // Timeout (2 s): the answer does not wait for that. The probe gets the same token and ends by itself soon after.
        var probe = ProbeAsync(cancellationToken);
        try
        {
            return await probe.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("PostgreSQL did not answer in time.");
        }
    }

    private async Task<HealthCheckResult> ProbeAsync(CancellationToken cancellationToken)
    {
        try
        {
            string connectionString;
            await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
            {
                connectionString = db.Database.GetConnectionString()!;
            }
            // A connection of its own (from the same Npgsql pool), so the context's is never left mid-command.
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "select 1";
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or InvalidOperationException)
        {
            return HealthCheckResult.Unhealthy("PostgreSQL did not answer.", ex);
        }
    }
}
