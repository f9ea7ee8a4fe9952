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

    /// <summary>How many <see cref="FinishAsync"/> calls throw before one succeeds (a database outage); -1: all of them.</summary>
    public int FinishFailures { get; set; }

    /// <summary>Makes <see cref="RenewAsync"/> throw, as a database outage would.</summary>
    public bool FailRenewals { get; set; }

    /// <summary>Assistant messages another process has taken over: not renewed, not finished here.</summary>
    public ConcurrentDictionary<Guid, bool> TakenOver { get; } = new();

    /// <summary>What <see cref="ClaimExpiredAsync"/> hands out next.</summary>
    public ConcurrentQueue<ExpiredGeneration> Expired { get; } = new();

    /// <summary>Every renewal asked for, in order.</summary>
    public ConcurrentQueue<LeaseRenewal> Renewals { get; } = new();

    public Task<bool> FinishAsync(GenerationOutcome outcome, CancellationToken cancellationToken)
    {
        if (FinishFailures != 0)
        {
            FinishFailures = Math.Max(-1, FinishFailures - 1);
            throw new InvalidOperationException("database down");
        }

        if (TakenOver.ContainsKey(outcome.AssistantMessageId))
        {
            return Task.FromResult(false);
        }

        Calls.Enqueue((outcome.Status.ToString().ToLowerInvariant(), outcome.GenerationId, outcome));
        return Task.FromResult(true);
    }

    public Task<IReadOnlySet<Guid>> RenewAsync(IReadOnlyList<LeaseRenewal> renewals, CancellationToken cancellationToken)
    {
        if (FailRenewals)
        {
            throw new InvalidOperationException("database down");
        }

        foreach (var renewal in renewals)
        {
            Renewals.Enqueue(renewal);
        }

        return Task.FromResult<IReadOnlySet<Guid>>(renewals.Select(r => r.AssistantMessageId).Where(id => !TakenOver.ContainsKey(id)).ToHashSet());
    }

    public Task<IReadOnlyList<ExpiredGeneration>> ClaimExpiredAsync(int max, CancellationToken cancellationToken)
    {
        var claimed = new List<ExpiredGeneration>();
        while (claimed.Count < max && Expired.TryDequeue(out var next))
        {
            claimed.Add(next);
        }

        return Task.FromResult<IReadOnlyList<ExpiredGeneration>>(claimed);
    }

    public IReadOnlyList<(string Call, GenerationOutcome? Outcome)> For(Guid generationId) =>
        Calls.Where(c => c.GenerationId == generationId).Select(c => (c.Call, c.Outcome)).ToList();
}
