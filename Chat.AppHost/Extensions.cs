using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.AppHost;

/// <summary>The parameters every token-validating service receives.</summary>
internal sealed record JwtParameters(
    IResourceBuilder<ParameterResource> Issuer,
    IResourceBuilder<ParameterResource> Audience,
    IResourceBuilder<ParameterResource> SigningKey);

internal static partial class AppHostExtensions
{
    public const string DefaultIssuer = "chat-dev";
    public const string DefaultAudience = "chat";

    public static JwtParameters AddChatJwtParameters(this IDistributedApplicationBuilder builder)
    {
        builder.Configuration["Parameters:jwt-issuer"] ??= DefaultIssuer;
        builder.Configuration["Parameters:jwt-audience"] ??= DefaultAudience;
        return new JwtParameters(
            builder.AddParameter("jwt-issuer"),
            builder.AddParameter("jwt-audience"),
            builder.AddParameter("jwt-signing-key", new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true));
    }

    /// <summary>
    /// Passes a configuration section of the app host (e.g. <c>Gateway</c>, <c>Llm</c>) to a service as environment
    /// variables, so settings given to <c>./run.sh</c> or the tests reach the service that reads them.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithSettingsSection(this IResourceBuilder<ProjectResource> project, IConfiguration configuration, string section)
    {
        foreach (var (key, value) in configuration.GetSection(section).AsEnumerable(makePathsRelative: false))
        {
            if (value is not null)
            {
                project.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
            }
        }
        return project;
    }

    /// <summary>
    /// Well-known provider keys, each an optional secret parameter: set <c>Parameters:openai-api-key</c> (user secrets or
    /// environment) and the provider appears; with none set, the built-in <c>local</c> model serves.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithLlmProviderKeys(this IResourceBuilder<ProjectResource> api, IDistributedApplicationBuilder builder)
    {
        (string Parameter, string Provider, string Type, string? Endpoint)[] known =
        [
            ("openai-api-key", "openai", "openai", null),
            ("anthropic-api-key", "anthropic", "anthropic", null),
            ("deepseek-api-key", "deepseek", "openai-compatible", "https://api.deepseek.com/v1"),
        ];
        foreach (var (parameter, provider, type, endpoint) in known)
        {
            if (string.IsNullOrEmpty(builder.Configuration[$"Parameters:{parameter}"]))
            {
                continue;
            }
            var prefix = $"Llm__Providers__{provider}__";
            api.WithEnvironment(prefix + "ApiKey", builder.AddParameter(parameter, secret: true));
            if (string.IsNullOrEmpty(builder.Configuration[$"Llm:Providers:{provider}:Type"]))
            {
                api.WithEnvironment(prefix + "Type", type);
            }
            if (endpoint is not null && string.IsNullOrEmpty(builder.Configuration[$"Llm:Providers:{provider}:Endpoint"]))
            {
                api.WithEnvironment(prefix + "Endpoint", endpoint);
            }
        }
        return api;
    }

    public static IResourceBuilder<T> WithChatJwt<T>(this IResourceBuilder<T> resource, JwtParameters jwt)
        where T : IResourceWithEnvironment =>
        resource
            .WithEnvironment("Jwt__Issuer", jwt.Issuer)
            .WithEnvironment("Jwt__Audience", jwt.Audience)
            .WithEnvironment("Jwt__SigningKey", jwt.SigningKey);

    /// <summary>
    /// With no dashboard there is no OTLP endpoint to export to: clear the one the app host hands every project, so the
    /// services do not spend a benchmark retrying exports (ServiceDefaults adds no exporter without an endpoint).
    /// </summary>
    public static void WithoutTelemetryExport(this IDistributedApplicationBuilder builder)
    {
        foreach (var project in builder.Resources.OfType<ProjectResource>())
        {
            builder.CreateResourceBuilder(project).WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", "");
        }
    }

    /// <summary>
    /// Prints the gateway's URL once it is healthy: the one address a person needs besides the dashboard. chat-api's own
    /// address (the orchestrator's proxy over its replicas) follows, for benchmarks that measure the gateway's cost.
    /// </summary>
    public static void AnnounceWhenReady(this IDistributedApplicationBuilder builder, IResourceBuilder<ProjectResource> gateway, IResourceBuilder<ProjectResource> api)
    {
        builder.Eventing.Subscribe<ResourceReadyEvent>(gateway.Resource, (e, _) =>
        {
            var logger = e.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Chat.AppHost");
            LogReady(logger, gateway.Resource.GetEndpoint("http").Url, api.Resource.GetEndpoint("http").Url);
            return Task.CompletedTask;
        });
    }

    [LoggerMessage(1, LogLevel.Information, "Chat is ready. Gateway: {Url}  (API: {Url}/api/v1, WebSocket: {Url}/ws; chat-api itself: {ApiUrl})")]
    private static partial void LogReady(ILogger logger, string url, string apiUrl);
}
