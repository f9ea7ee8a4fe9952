using System.Globalization;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.IntegrationTests;

/// <summary>Finds, stops and waits for chat-streaming replicas of a running app host.</summary>
public static class StreamingReplicas
{
    /// <summary>Maps a socket's <c>hello.instance</c> (host:pid) to the replica's resource id (its process runs under <c>dotnet run</c>).</summary>
    public static async Task<string> ResourceOfAsync(DistributedApplication app, string instance)
    {
        var pid = int.Parse(instance[(instance.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
        var ancestors = new HashSet<string>(StringComparer.Ordinal);
        for (var p = pid; p > 1 && ancestors.Add(p.ToString(CultureInfo.InvariantCulture));)
        {
            var stat = await File.ReadAllTextAsync($"/proc/{p}/stat");
            p = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
        }
        var notifications = app.Services.GetRequiredService<ResourceNotificationService>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var e in notifications.WatchAsync(cts.Token))
        {
            if (e.Resource.Name == "chat-streaming"
                && e.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value?.ToString() is { } executablePid
                && ancestors.Contains(executablePid))
            {
                return e.ResourceId;
            }
        }
        throw new InvalidOperationException($"No chat-streaming replica owns process {pid}.");
    }

    /// <summary>Connects through the gateway until a replica other than <paramref name="deadInstance"/> accepts the socket.</summary>
    public static async Task<StreamingTestClient> ConnectToSurvivorAsync(Uri gateway, string token, string deadInstance)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var client = await StreamingTestClient.ConnectAsync(gateway, token);
                if (client.Instance != deadInstance)
                {
                    return client;
                }
                await client.DisposeAsync();
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException && attempt < 20)
            {
                // The proxy may still try the stopped replica once.
            }
            Assert.True(attempt < 20, "no surviving replica accepted the socket");
            await Task.Delay(200);
        }
    }

    /// <summary>Starts <paramref name="replica"/> again and waits until sockets land on two instances (other tests need both).</summary>
    public static async Task RestartAsync(DistributedApplication app, Uri gateway, string replica)
    {
        using var start = new CancellationTokenSource(ChatAppFixture.StepTimeout);
        await app.ResourceCommands.ExecuteCommandAsync(replica, "resource-start", start.Token);
        var token = TestTokens.Create("probe", "probe");
        var seen = new HashSet<string>();
        while (seen.Count < 2)
        {
            start.Token.ThrowIfCancellationRequested();
            try
            {
                await using var client = await StreamingTestClient.ConnectAsync(gateway, token);
                seen.Add(client.Instance);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                await Task.Delay(200, start.Token);
            }
        }
    }
}
