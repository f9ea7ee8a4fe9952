using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.AppHost;

internal static partial class AppHostExtensions
{
    /// <summary>Prints the gateway's URL once it is healthy: the one address a person needs besides the dashboard.</summary>
    public static void AnnounceWhenReady(this IDistributedApplicationBuilder builder, IResourceBuilder<ProjectResource> gateway)
    {
        builder.Eventing.Subscribe<ResourceReadyEvent>(gateway.Resource, (e, _) =>
        {
            var logger = e.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Chat.AppHost");
            LogReady(logger, gateway.Resource.GetEndpoint("http").Url);
            return Task.CompletedTask;
        });
    }

    [LoggerMessage(1, LogLevel.Information, "Chat is ready. Gateway: {Url}  (API: {Url}/api/v1, WebSocket: {Url}/ws)")]
    private static partial void LogReady(ILogger logger, string url);
}
