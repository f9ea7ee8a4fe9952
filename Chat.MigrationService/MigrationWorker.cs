using System.Diagnostics;
using Chat.Data;
using Microsoft.EntityFrameworkCore;

namespace Chat.MigrationService;

/// <summary>
/// Applies the EF Core migrations, seeds development data (Development only, idempotently) and stops the host.
/// Its exit is what releases <c>WaitForCompletion(migrations)</c> in the app host; on failure it exits non-zero.
/// </summary>
internal sealed partial class MigrationWorker(
    IServiceProvider services,
    IHostEnvironment environment,
    IHostApplicationLifetime lifetime,
    ILogger<MigrationWorker> logger) : BackgroundService
{
    public const string ActivitySourceName = "Chat.MigrationService";
    private static readonly ActivitySource s_activitySource = new(ActivitySourceName);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var activity = s_activitySource.StartActivity("Migrating database", ActivityKind.Client);
        try
        {
            await using var scope = services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ChatDbContext>();

            var pending = (await db.Database.GetPendingMigrationsAsync(stoppingToken)).ToList();
            LogPending(logger, pending.Count, string.Join(", ", pending));

            var strategy = db.Database.CreateExecutionStrategy();
            await strategy.ExecuteAsync(async ct => await db.Database.MigrateAsync(ct), stoppingToken);

            if (environment.IsDevelopment())
            {
                var inserted = await DevelopmentSeed.ApplyAsync(db, stoppingToken);
                LogSeeded(logger, inserted);
            }

            LogDone(logger);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            activity?.AddException(ex);
            activity?.SetStatus(ActivityStatusCode.Error);
            LogFailed(logger, ex);
            Environment.ExitCode = 1;
        }
        finally
        {
            lifetime.StopApplication();
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Applying {Count} pending migration(s): {Migrations}")]
    private static partial void LogPending(ILogger logger, int count, string migrations);

    [LoggerMessage(2, LogLevel.Information, "Development seed inserted {Count} row(s)")]
    private static partial void LogSeeded(ILogger logger, int count);

    [LoggerMessage(3, LogLevel.Information, "Database is up to date")]
    private static partial void LogDone(ILogger logger);

    [LoggerMessage(4, LogLevel.Critical, "Migrating the database failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
