using System.Collections.Concurrent;
using Chat.Llm.Generation;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Chat.Llm.Tests.Infrastructure;

/// <summary>A real generic host wired with <c>AddChatLlm()</c> exactly as Chat.Api will, over the test Redis.</summary>
public sealed class LlmHost : IAsyncDisposable
{
    private readonly IHost _host;

    private LlmHost(IHost host) => _host = host;

    public IServiceProvider Services => _host.Services;

    public RecordingStore Store => Services.GetRequiredService<RecordingStore>();

    /// <summary>Starts the host; <c>configure</c> registers services before <c>AddChatLlm()</c>, which keeps them (e.g. a smaller <c>GenerationFeed</c>).</summary>
    public static async Task<LlmHost> StartAsync(Dictionary<string, string?> config, IConnectionMultiplexer redis, Action<IServiceCollection>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(config);
        builder.Services.AddSingleton(redis);
        builder.Services.AddSingleton<RecordingStore>();
        builder.Services.AddSingleton<IGenerationStore>(sp => sp.GetRequiredService<RecordingStore>());
        configure?.Invoke(builder.Services);
        builder.AddChatLlm();
        var host = builder.Build();
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(15));
        return new LlmHost(host);
    }

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync().WaitAsync(TimeSpan.FromSeconds(15));
        _host.Dispose();
    }
}

/// <summary>An <see cref="IGenerationStore"/> that records every call.</summary>
public sealed class RecordingStore : IGenerationStore
{
    public ConcurrentQueue<(string Call, Guid GenerationId, GenerationOutcome? Outcome)> Calls { get; } = new();

    /// <summary>Makes <see cref="MarkStreamingAsync"/> throw, as a database outage would.</summary>
    public bool FailMarkStreaming { get; set; }

    public Task MarkStreamingAsync(GenerationJob job, CancellationToken cancellationToken)
    {
        if (FailMarkStreaming)
        {
            throw new InvalidOperationException("database down");
        }

        Calls.Enqueue(("streaming", job.GenerationId, null));
        return Task.CompletedTask;
    }

    public Task CompleteAsync(GenerationOutcome outcome, CancellationToken cancellationToken) => Record("completed", outcome);

    public Task FailAsync(GenerationOutcome outcome, CancellationToken cancellationToken) => Record("failed", outcome);

    public Task CancelAsync(GenerationOutcome outcome, CancellationToken cancellationToken) => Record("cancelled", outcome);

    public IReadOnlyList<(string Call, GenerationOutcome? Outcome)> For(Guid generationId) =>
        Calls.Where(c => c.GenerationId == generationId).Select(c => (c.Call, c.Outcome)).ToList();

    private Task Record(string call, GenerationOutcome outcome)
    {
        Calls.Enqueue((call, outcome.GenerationId, outcome));
        return Task.CompletedTask;
    }
}
