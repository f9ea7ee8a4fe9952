using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using Anthropic;
using Anthropic.Core;
using Chat.Llm.Context;
using Chat.Llm.Diagnostics;
using Chat.Llm.Local;
using Chat.Llm.Options;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OllamaSharp;
using OpenAI;
using Polly;

namespace Chat.Llm.Providers;

/// <summary>
/// The providers of the <c>Llm</c> section that can serve (a type that needs a key has one), their models, and one
/// <see cref="IChatClient"/> pipeline per (provider, model): resilience (<see cref="ResilientChatClient"/> over the
/// provider's Polly pipeline, built once per provider: retry before the first text, timeouts) → logging → OpenTelemetry
/// (GenAI conventions) → the provider's own client. With nothing configured, only the built-in
/// <c>local</c> provider serves.
/// </summary>
public sealed class ProviderRegistry : IDisposable
{
    /// <summary>The ActivitySource / Meter name of the GenAI telemetry (add it to tracing and metrics).</summary>
    public const string TelemetrySourceName = "Chat.Llm";

    private readonly LlmOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, ProviderOptions> _providers;
    private readonly List<ModelDescriptor> _models = [];
    private readonly ConcurrentDictionary<string, Lazy<IChatClient>> _clients = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, HttpClient> _httpClients = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, ResiliencePipeline> _pipelines = new(StringComparer.OrdinalIgnoreCase);

    public ProviderRegistry(IOptions<LlmOptions> options, ILoggerFactory loggerFactory, TimeProvider? timeProvider = null)
    {
        _options = options.Value;
        _loggerFactory = loggerFactory;
        _time = timeProvider ?? TimeProvider.System;
        _providers = new(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, provider) in _options.Providers)
        {
            if (provider.Enabled && IsUsable(provider))
            {
                _providers[name] = provider;
            }
        }

        if (_options.Local.Enabled && !_providers.Values.Any(p => IsType(p, ProviderTypes.Local)))
        {
            _providers[ProviderTypes.Local] = new ProviderOptions { Type = ProviderTypes.Local };
        }

        foreach (var (name, provider) in _providers.ToList())
        {
            var models = ModelsOf(provider).ToList();
            if (models.Count == 0)
            {
                _providers.Remove(name); // e.g. ollama or openai-compatible with no model listed: nothing to route to
                continue;
            }

            _pipelines[name] = LlmResilience.Build(name, _options.Retry, _options.Timeouts, _time, loggerFactory.CreateLogger<ResilientChatClient>());
            foreach (var model in models)
            {
                _models.Add(new ModelDescriptor(
                    name, provider.Type.ToLowerInvariant(), model.Name, model.Aliases, model.ContextWindow, model.MaxOutputTokens,
                    TokenCounter.ChooseTokenizer(provider.Type, model.Name, model.Tokenizer)));
            }
        }

        if (_models.Count == 0)
        {
            throw new InvalidOperationException("No LLM provider can serve: configure one under 'Llm:Providers' or leave 'Llm:Local:Enabled' on.");
        }

        (DefaultProvider, DefaultModel) = ChooseDefault();
        LlmLog.ProvidersConfigured(loggerFactory.CreateLogger<ProviderRegistry>(), string.Join(", ", _providers.Keys), DefaultProvider, DefaultModel);
    }

    public string DefaultProvider { get; }

    public string DefaultModel { get; }

    /// <summary>Every model that can serve, in configuration order.</summary>
    public IReadOnlyList<ModelDescriptor> Models => _models;

    public IReadOnlyCollection<string> ProviderNames => _providers.Keys;

    public bool HasProvider(string name) => _providers.ContainsKey(name);

    /// <summary>The pipeline for one model of one provider (built once, then shared).</summary>
    public IChatClient GetClient(ModelDescriptor model) =>
        _clients.GetOrAdd(model.Id, _ => new Lazy<IChatClient>(() => Build(model))).Value;

    public void Dispose()
    {
        foreach (var client in _clients.Values.Where(c => c.IsValueCreated))
        {
            client.Value.Dispose();
        }

        foreach (var http in _httpClients.Values)
        {
            http.Dispose();
        }
    }

    internal static bool IsUsable(ProviderOptions p) => p.Type.ToLowerInvariant() switch
    {
        ProviderTypes.OpenAI or ProviderTypes.Anthropic => !string.IsNullOrWhiteSpace(p.ApiKey),
        ProviderTypes.AzureOpenAI => !string.IsNullOrWhiteSpace(p.ApiKey) && p.Endpoint is not null,
        ProviderTypes.OpenAICompatible => p.Endpoint is not null,
        ProviderTypes.Ollama or ProviderTypes.Local => true,
        _ => throw new InvalidOperationException($"Unknown LLM provider type '{p.Type}'; expected one of {string.Join(", ", ProviderTypes.All)}."),
    };

    private static bool IsType(ProviderOptions p, string type) => string.Equals(p.Type, type, StringComparison.OrdinalIgnoreCase);

    private IEnumerable<ModelOptions> ModelsOf(ProviderOptions provider)
    {
        if (IsType(provider, ProviderTypes.Local))
        {
            var local = _options.Local;
            var configured = provider.Models.FirstOrDefault();
            return [new ModelOptions
            {
                Name = LocalChatClient.ModelName,
                Aliases = configured?.Aliases is { Count: > 0 } a ? a : ["dev", "local"],
                ContextWindow = local.ContextWindow,
                MaxOutputTokens = local.MaxOutputTokens,
                Tokenizer = TokenCounter.Estimate,
            }];
        }

        if (provider.Models.Count > 0)
        {
            return provider.Models;
        }

        return provider.Type.ToLowerInvariant() switch
        {
            ProviderTypes.OpenAI => [new ModelOptions { Name = "gpt-4o-mini", ContextWindow = 128_000, MaxOutputTokens = 4096 }],
            ProviderTypes.Anthropic => [new ModelOptions { Name = "claude-sonnet-4-5", ContextWindow = 200_000, MaxOutputTokens = 4096 }],
            _ => [],
        };
    }

    private (string Provider, string Model) ChooseDefault()
    {
        if (_options.DefaultProvider is { } p && _providers.ContainsKey(p))
        {
            var models = _models.Where(m => string.Equals(m.Provider, p, StringComparison.OrdinalIgnoreCase)).ToList();
            var chosen = models.FirstOrDefault(m => Matches(m, _options.DefaultModel)) ?? models.FirstOrDefault();
            if (chosen is not null)
            {
                return (chosen.Provider, chosen.Name);
            }
        }

        if (_options.DefaultModel is { } dm && _models.FirstOrDefault(m => Matches(m, dm)) is { } byModel)
        {
            return (byModel.Provider, byModel.Name);
        }

        // A real provider when one has a key; the development model otherwise.
        var first = _models.FirstOrDefault(m => m.ProviderType != ProviderTypes.Local) ?? _models[0];
        return (first.Provider, first.Name);
    }

    internal static bool Matches(ModelDescriptor m, string? name) =>
        name is not null
        && (string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase)
            || m.Aliases.Any(a => string.Equals(a, name, StringComparison.OrdinalIgnoreCase)));

    private IChatClient Build(ModelDescriptor model)
    {
        var provider = _providers[model.Provider];
        var inner = CreateInner(model, provider);
        return new ChatClientBuilder(inner)
            .Use(c => new ResilientChatClient(c, _pipelines[model.Provider], model.Provider, _options.Timeouts, _loggerFactory.CreateLogger<ResilientChatClient>()))
            .UseLogging(_loggerFactory)
            .UseOpenTelemetry(_loggerFactory, TelemetrySourceName, c => c.EnableSensitiveData = _options.EnableSensitiveData)
            .Build();
    }

    private IChatClient CreateInner(ModelDescriptor model, ProviderOptions provider)
    {
        switch (model.ProviderType)
        {
            case ProviderTypes.Local:
                return new LocalChatClient(_options.Local);

            case ProviderTypes.OpenAI:
            case ProviderTypes.OpenAICompatible:
            case ProviderTypes.AzureOpenAI:
            {
                var clientOptions = new OpenAIClientOptions
                {
                    Transport = new HttpClientPipelineTransport(Http(model.Provider)),
                    // Our ResilientChatClient retries, and only before the first token.
                    RetryPolicy = new ClientRetryPolicy(0),
                    NetworkTimeout = Timeout.InfiniteTimeSpan,
                };
                var key = provider.ApiKey;
                if (model.ProviderType == ProviderTypes.AzureOpenAI)
                {
                    // Azure OpenAI's v1 API speaks the OpenAI wire format under /openai/v1 with an api-key header.
                    clientOptions.Endpoint = new Uri(provider.Endpoint!, "openai/v1/");
                    clientOptions.AddPolicy(new ApiKeyHeaderPolicy(key!), PipelinePosition.PerCall);
                }
                else if (provider.Endpoint is not null)
                {
                    clientOptions.Endpoint = provider.Endpoint;
                }

                // Local OpenAI-compatible servers (vLLM, LM Studio) take no key; the SDK insists on one.
                var credential = new ApiKeyCredential(string.IsNullOrWhiteSpace(key) ? "no-key" : key);
                return new OpenAIClient(credential, clientOptions).GetChatClient(model.Name).AsIChatClient();
            }

            case ProviderTypes.Anthropic:
            {
                var client = new AnthropicClient(new ClientOptions
                {
                    ApiKey = provider.ApiKey,
                    BaseUrl = provider.Endpoint?.ToString().TrimEnd('/') ?? "https://api.anthropic.com",
                    MaxRetries = 0,
                    Timeout = Timeout.InfiniteTimeSpan,
                    HttpClient = Http(model.Provider),
                });
                return client.AsIChatClient(model.Name, model.MaxOutputTokens);
            }

            case ProviderTypes.Ollama:
            {
                var http = Http(model.Provider);
                http.BaseAddress ??= provider.Endpoint ?? new Uri("http://localhost:11434");
                return new OllamaApiClient(http, model.Name);
            }

            default:
                throw new InvalidOperationException($"Unknown LLM provider type '{model.ProviderType}'.");
        }
    }

    private HttpClient Http(string provider) => _httpClients.GetOrAdd(provider, _ => new HttpClient(new RetryAfterHandler(new AbortOnCancelHandler(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(10),
    }), _time))
    {
        // Streams can be long; ResilientChatClient owns every timeout.
        Timeout = Timeout.InfiniteTimeSpan,
    });

    private sealed class ApiKeyHeaderPolicy(string key) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("api-key", key);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("api-key", key);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }
    }
}
