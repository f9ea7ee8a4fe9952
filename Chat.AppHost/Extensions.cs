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

    /// <summary>Passes the app host's <c>Gateway:*</c> settings (CORS origins, limits) to the gateway as environment.</summary>
    public static IResourceBuilder<ProjectResource> WithGatewaySettings(this IResourceBuilder<ProjectResource> gateway, IConfiguration configuration)
    {
        foreach (var (key, value) in configuration.GetSection("Gateway").AsEnumerable(makePathsRelative: false))
        {
            if (value is not null)
            {
                gateway.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
            }
        }
        return gateway;
    }

    public static IResourceBuilder<T> WithChatJwt<T>(this IResourceBuilder<T> resource, JwtParameters jwt)
        where T : IResourceWithEnvironment =>
        resource
            .WithEnvironment("Jwt__Issuer", jwt.Issuer)
            .WithEnvironment("Jwt__Audience", jwt.Audience)
            .WithEnvironment("Jwt__SigningKey", jwt.SigningKey);

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
