using System.Diagnostics.Metrics;
using Chat.ServiceDefaults.Authentication;
using Chat.Streaming.Services;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Chat.Streaming.Tests;

/// <summary>Connections over a <see cref="ScriptedWebSocket"/> with no hub, chat-api or Redis behind them.</summary>
public sealed class TestConnections : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public TestConnections() => Telemetry = new StreamingTelemetry(_services.GetRequiredService<IMeterFactory>());

    public StreamingTelemetry Telemetry { get; }

    public void Dispose()
    {
        Telemetry.Dispose();
        _services.Dispose();
    }

    /// <summary>A connection of a user with chat.read; <paramref name="configure"/> adjusts the options.</summary>
    public ChatConnection Create(ScriptedWebSocket socket, Action<StreamingOptions>? configure = null, TimeProvider? time = null)
    {
        var options = new StreamingOptions { CloseTimeout = TimeSpan.FromMilliseconds(500) };
        configure?.Invoke(options);
        var services = new ConnectionServices(
            Hub: null!, Api: null!, Authorizer: null!, CancelBus: null!, // a connection that never subscribes or sends does not touch them
            Telemetry,
            options,
            time ?? TimeProvider.System,
            NullLogger<ChatConnection>.Instance);
        var user = new ChatUser("tenant", "user", new HashSet<string> { ChatScopes.Read });
        return new ChatConnection(socket, user, "token", expiresAt: null, services);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails after 20 s.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what = "the connection")
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(5);
        }
    }
}
