using Chat.Llm.Options;
using Chat.Llm.Providers;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Chat.Llm.Tests.Infrastructure;

/// <summary>Builds <see cref="LlmOptions"/> the way the app does: from configuration keys under <c>Llm</c>.</summary>
public static class TestConfig
{
    /// <summary>Fast timeouts and back-off so failure paths finish in well under a second.</summary>
    public static Dictionary<string, string?> Fast() => new()
    {
        ["Llm:Retry:MaxRetries"] = "2",
        ["Llm:Retry:BaseDelay"] = "00:00:00.010",
        // Long: a first attempt that times out while still connecting (a loaded machine) never reaches the upstream, and
        // tests count the upstream's requests; tests of the first-token timeout set a short one.
        ["Llm:Timeouts:FirstToken"] = "00:00:30",
        // Generous, so a slow stream on a loaded machine is not taken for a stall or a call cut short by the total limit
        // (two refused attempts once took 18 s on two busy cores); tests of a timeout itself set a short one.
        ["Llm:Timeouts:Idle"] = "00:00:05",
        ["Llm:Timeouts:Total"] = "00:01:00",
        ["Llm:Local:TimeToFirstTokenMs"] = "0",
        ["Llm:Local:TokensPerSecond"] = "10000",
    };

    public static Dictionary<string, string?> WithProvider(this Dictionary<string, string?> config, string name, string type, Uri? endpoint, string? key = "test-key", string model = "gpt-4o-mini", int contextWindow = 8192)
    {
        config[$"Llm:Providers:{name}:Type"] = type;
        if (endpoint is not null)
        {
            config[$"Llm:Providers:{name}:Endpoint"] = endpoint.ToString();
        }

        if (key is not null)
        {
            config[$"Llm:Providers:{name}:ApiKey"] = key;
        }

        config[$"Llm:Providers:{name}:Models:0:Name"] = model;
        config[$"Llm:Providers:{name}:Models:0:ContextWindow"] = contextWindow.ToString();
        config[$"Llm:Providers:{name}:Models:0:MaxOutputTokens"] = "512";
        return config;
    }

    public static LlmOptions Bind(Dictionary<string, string?> config)
    {
        var options = new LlmOptions();
        new ConfigurationBuilder().AddInMemoryCollection(config).Build().GetSection(LlmOptions.SectionName).Bind(options);
        return options;
    }

    public static ProviderRegistry Registry(Dictionary<string, string?> config, ILoggerFactory? logs = null, TimeProvider? time = null) =>
        new(Microsoft.Extensions.Options.Options.Create(Bind(config)), logs ?? NullLoggerFactory.Instance, time);
}
