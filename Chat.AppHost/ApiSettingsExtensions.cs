using Microsoft.Extensions.Configuration;

namespace Chat.AppHost;

internal static class ApiSettingsExtensions
{
    /// <summary>Sections of chat-api settings an operator (or a test) may set on the app host.</summary>
    private static readonly string[] s_sections = ["Conversations", "Messages"];

    /// <summary>
    /// Passes chat-api settings set in the app host's configuration (e.g. <c>--Conversations:PurgeInterval=00:00:02</c>
    /// or <c>Conversations__RetentionDays=7</c>) to the API as environment variables. Nothing is passed when nothing is
    /// set, so the API's own defaults apply.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithApiSettings(this IResourceBuilder<ProjectResource> api, IConfiguration configuration)
    {
        foreach (var section in s_sections)
        {
            foreach (var (key, value) in configuration.GetSection(section).AsEnumerable())
            {
                if (value is not null)
                {
                    api.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
                }
            }
        }
        return api;
    }
}
