using Chat.Llm.Local;
using Chat.Llm.Options;
using Chat.Llm.Providers;
using Microsoft.Extensions.Options;

namespace Chat.Llm.Routing;

/// <summary>A model/provider choice as a caller or a conversation states it (either part may be missing).
/// <see cref="Model"/> may be a name, an alias, or <c>provider/model</c>.</summary>
public sealed record RouteChoice(string? Model, string? Provider)
{
    public bool IsEmpty => string.IsNullOrWhiteSpace(Model) && string.IsNullOrWhiteSpace(Provider);
}

/// <summary>The models to try, in order: the chosen one, then the configured fallback chain (duplicates removed).</summary>
public sealed record RoutePlan(IReadOnlyList<ModelDescriptor> Candidates)
{
    public ModelDescriptor Primary => Candidates[0];
}

/// <summary>
/// Resolves what a generation runs on: the request's model/provider, else the conversation's, else the configured
/// default; model aliases; then the fallback chain (<see cref="LlmOptions.Fallback"/>) for failures before the first
/// token. Unknown names fail with <see cref="LlmErrorCodes.ModelNotFound"/> / <see cref="LlmErrorCodes.ProviderNotFound"/>
/// naming what is available.
/// </summary>
public sealed class ModelRouter(ProviderRegistry registry, IOptions<LlmOptions> options)
{
    private readonly List<string> _fallback = options.Value.Fallback;

    public RoutePlan Resolve(RouteChoice? request, RouteChoice? conversation = null)
    {
        var choice = request is { IsEmpty: false } ? request
            : conversation is { IsEmpty: false } ? conversation
            : new RouteChoice(registry.DefaultModel, registry.DefaultProvider);
        var primary = Find(choice, preferredProvider: conversation?.Provider);
        var candidates = new List<ModelDescriptor> { primary };
        foreach (var entry in _fallback)
        {
            var slash = entry.IndexOf('/', StringComparison.Ordinal);
            var fb = slash < 0 ? new RouteChoice(null, entry) : new RouteChoice(entry[(slash + 1)..], entry[..slash]);
            if (!registry.HasProvider(fb.Provider!))
            {
                continue; // A fallback whose provider has no key configured is skipped, not an error.
            }

            ModelDescriptor model;
            try
            {
                model = Find(fb, null);
            }
            catch (LlmException)
            {
                continue; // A fallback naming a model its provider does not list is skipped too.
            }

            if (!candidates.Contains(model))
            {
                candidates.Add(model);
            }
        }

        return new RoutePlan(candidates);
    }

    /// <summary>What a caller may use: every model of every provider that can serve.</summary>
    public IReadOnlyList<ModelListing> ListModels() =>
        registry.Models.Select(m => new ModelListing(
            m.Id, m.Name, m.Provider, m.ProviderType, m.Aliases, m.ContextWindow, m.MaxOutputTokens,
            IsDefault: string.Equals(m.Provider, registry.DefaultProvider, StringComparison.OrdinalIgnoreCase) && m.Name == registry.DefaultModel,
            Description: m.ProviderType == ProviderTypes.Local ? "Built-in development model: deterministic replies, no real LLM." : null)).ToList();

    private ModelDescriptor Find(RouteChoice choice, string? preferredProvider)
    {
        var model = choice.Model?.Trim();
        var provider = choice.Provider?.Trim();
        if (string.IsNullOrEmpty(provider) && model is not null && model.IndexOf('/', StringComparison.Ordinal) is var slash and > 0
            && registry.HasProvider(model[..slash]))
        {
            provider = model[..slash];
            model = model[(slash + 1)..];
        }

        if (!string.IsNullOrEmpty(provider))
        {
            if (!registry.HasProvider(provider))
            {
                throw new LlmException(LlmErrorCodes.ProviderNotFound,
                    $"Unknown or unconfigured provider '{provider}'. Available: {string.Join(", ", registry.ProviderNames)}.");
            }

            var ofProvider = registry.Models.Where(m => string.Equals(m.Provider, provider, StringComparison.OrdinalIgnoreCase)).ToList();
            if (string.IsNullOrEmpty(model))
            {
                return ofProvider.First();
            }

            return ofProvider.FirstOrDefault(m => ProviderRegistry.Matches(m, model))
                ?? throw new LlmException(LlmErrorCodes.ModelNotFound,
                    $"Provider '{provider}' has no model '{model}'. Available: {string.Join(", ", ofProvider.Select(m => m.Name))}.");
        }

        var matches = registry.Models.Where(m => ProviderRegistry.Matches(m, model)).ToList();
        if (matches.Count == 0)
        {
            throw new LlmException(LlmErrorCodes.ModelNotFound,
                $"Unknown model '{model}'. Available: {string.Join(", ", registry.Models.Select(m => m.Id))}.");
        }

        return matches.FirstOrDefault(m => string.Equals(m.Provider, preferredProvider, StringComparison.OrdinalIgnoreCase))
            ?? matches.FirstOrDefault(m => string.Equals(m.Provider, registry.DefaultProvider, StringComparison.OrdinalIgnoreCase))
            ?? matches[0];
    }

    /// <summary>The development model's id, for callers that want to force it (benchmarks).</summary>
    public static string LocalModelId => $"{ProviderTypes.Local}/{LocalChatClient.ModelName}";
}
