using System.ComponentModel.DataAnnotations;
using Chat.Llm.Diagnostics;
using Chat.Llm.Generation;
using Chat.Llm.Options;
using Chat.Llm.Providers;
using Chat.Llm.Routing;
using Chat.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.Hosting;

public static class LlmServiceExtensions
{
    /// <summary>
    /// Registers the LLM core: <see cref="LlmOptions"/> (section <c>Llm</c>, validated on start), the
    /// <see cref="ProviderRegistry"/>, <see cref="ModelRouter"/>, the Redis frame publisher/reader, the cancel registry
    /// (one subscription per process), the bounded <see cref="GenerationQueue"/>, the <see cref="GenerationWorker"/>, and the
    /// lease keeper and sweeper that make every generation end even when its process dies.
    /// Needs <c>AddChatRedis()</c> and an <see cref="IGenerationStore"/> (<typeparamref name="TStore"/>, a singleton:
    /// open a scope inside for a DbContext).
    /// </summary>
    public static TBuilder AddChatLlm<TBuilder, TStore>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
        where TStore : class, IGenerationStore
    {
        builder.Services.TryAddSingleton<IGenerationStore, TStore>();
        return builder.AddChatLlm();
    }

    /// <summary>As <see cref="AddChatLlm{TBuilder, TStore}"/> with the <see cref="IGenerationStore"/> registered by the caller.</summary>
    public static TBuilder AddChatLlm<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var services = builder.Services;
        services.AddOptions<LlmOptions>()
            .BindConfiguration(LlmOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(ValidateProviders, "Llm: every provider needs a known Type, every model a Name and MaxOutputTokens < ContextWindow, and Local/Retry/Generation/Timeouts values must be in range.")
            .ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ProviderRegistry>();
        services.TryAddSingleton<ModelRouter>();
        services.TryAddSingleton<GenerationPlanner>();
        services.TryAddSingleton<GenerationFramePublisher>();
        services.TryAddSingleton<GenerationStreamReader>();
        services.TryAddSingleton<GenerationFeed>();
        services.AddMetrics();
        services.TryAddSingleton<GenerationCancelBus>();
        services.TryAddSingleton<GenerationCancellation>();
        services.AddHostedService(sp => sp.GetRequiredService<GenerationCancellation>());
        services.TryAddSingleton<GenerationMetrics>();
        services.TryAddSingleton<GenerationOwner>();
        services.TryAddSingleton<GenerationLeases>();
        services.TryAddSingleton<GenerationQueue>();
        services.TryAddSingleton<GenerationRunner>();
        services.AddHostedService<GenerationWorker>();
        // Every process renews what it runs and sweeps what a dead one left (docs/ARCHITECTURE.md, "Generations").
        services.AddHostedService<GenerationLeaseKeeper>();
        services.AddHostedService<GenerationSweeper>();

        builder.AddActivitySource(ProviderRegistry.TelemetrySourceName);
        builder.AddActivitySource(GenerationRunner.ActivitySourceName);
        return builder;
    }

    private static bool ValidateProviders(LlmOptions options) =>
        options.Providers.Values.All(p =>
            ProviderTypes.All.Contains(p.Type.ToLowerInvariant())
            && p.Models.All(m => Valid(m) && m.MaxOutputTokens < m.ContextWindow))
        && Valid(options.Local) && Valid(options.Retry) && Valid(options.Generation) && options.Generation.LeasesValid
        && options.Timeouts.Total > TimeSpan.Zero && options.Timeouts.Idle > TimeSpan.Zero && options.Timeouts.FirstToken > TimeSpan.Zero;

    // ValidateDataAnnotations does not descend into nested objects.
    private static bool Valid(object value) =>
        Validator.TryValidateObject(value, new ValidationContext(value), null, validateAllProperties: true);
}
