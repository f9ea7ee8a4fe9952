using Chat.Api.Extensions;
using Chat.Api.Infrastructure;
using Chat.Data;
using Microsoft.Extensions.Options;

namespace Chat.Api.Services;

/// <summary>
/// Removes conversations that have been soft-deleted for longer than the retention period, every
/// <see cref="ConversationsOptions.PurgeInterval"/>, in bounded batches. Several API replicas may run it at once:
/// the delete is idempotent, so at worst they share the work.
/// </summary>
internal sealed class ConversationPurgeService(
    IServiceScopeFactory scopes,
    IOptions<ConversationsOptions> options,
    TimeProvider time,
    ILogger<ConversationPurgeService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.PurgeInterval, time);
        do
        {
            await PurgeOnceAsync(stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private async Task PurgeOnceAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var cutoff = time.GetUtcNow() - settings.Retention;
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ChatDbContext>();
            var purged = await ConversationRetention.PurgeAsync(db, cutoff, settings.PurgeBatchSize, settings.PurgeMaxBatchesPerRun, stoppingToken);
            if (purged > 0)
            {
                ApiTrace.Purged(logger, purged, cutoff);
            }
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            ApiTrace.PurgeFailed(logger, e);
        }
    }
}
