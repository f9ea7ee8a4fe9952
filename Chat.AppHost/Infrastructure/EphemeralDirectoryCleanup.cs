using Microsoft.Extensions.Hosting;

namespace Chat.AppHost.Infrastructure;

/// <summary>Deletes an ephemeral data directory once the app host (and the servers it stopped) are gone.</summary>
internal sealed class EphemeralDirectoryCleanup(string directory) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // The orchestrator stops the servers during shutdown; give them a moment to release their files.
        for (var attempt = 0; attempt < 10 && Directory.Exists(directory); attempt++)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await Task.Delay(200, CancellationToken.None);
            }
        }
    }
}
