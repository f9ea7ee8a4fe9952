using Chat.Llm.Local;
using Chat.Llm.Providers;
using Chat.Llm.Routing;
using Chat.Llm.Tests.Infrastructure;

namespace Chat.Llm.Tests;

public sealed class RoutingTests
{
    private static ModelRouter Router(Dictionary<string, string?> config) =>
        new(TestConfig.Registry(config), Microsoft.Extensions.Options.Options.Create(TestConfig.Bind(config)));

    private static Dictionary<string, string?> TwoProviders()
    {
        var config = TestConfig.Fast()
            .WithProvider("openai", ProviderTypes.OpenAI, null, model: "gpt-4o-mini")
            .WithProvider("claude", ProviderTypes.Anthropic, null, model: "claude-sonnet-4-5");
        config["Llm:Providers:openai:Models:0:Aliases:0"] = "fast";
        config["Llm:Providers:openai:Models:1:Name"] = "gpt-4.1";
        config["Llm:Providers:claude:Models:0:Aliases:0"] = "smart";
        config["Llm:DefaultProvider"] = "claude";
        return config;
    }

    [Fact]
    public void WithoutKeysTheLocalDevelopmentModelIsTheDefault()
    {
        var config = TestConfig.Fast();
        config["Llm:Providers:openai:Type"] = "openai"; // no key: not offered
        var router = Router(config);

        var plan = router.Resolve(null);

        Assert.Equal(LocalChatClient.ModelName, plan.Primary.Name);
        Assert.Equal(ProviderTypes.Local, plan.Primary.Provider);
        var listed = Assert.Single(router.ListModels());
        Assert.True(listed.IsDefault);
        Assert.Contains("development model", listed.Description);
    }

    [Fact]
    public void RequestBeatsConversationBeatsDefault()
    {
        var router = Router(TwoProviders());

        Assert.Equal("openai/gpt-4.1", router.Resolve(new RouteChoice("gpt-4.1", null), new RouteChoice("smart", null)).Primary.Id);
        Assert.Equal("claude/claude-sonnet-4-5", router.Resolve(new RouteChoice(null, null), new RouteChoice("smart", null)).Primary.Id);
        Assert.Equal("claude/claude-sonnet-4-5", router.Resolve(null, null).Primary.Id);
        Assert.Equal("openai/gpt-4o-mini", router.Resolve(new RouteChoice(null, "openai")).Primary.Id);
    }

    [Fact]
    public void AliasesAndProviderPrefixedNamesResolve()
    {
        var router = Router(TwoProviders());

        Assert.Equal("openai/gpt-4o-mini", router.Resolve(new RouteChoice("fast", null)).Primary.Id);
        Assert.Equal("openai/gpt-4.1", router.Resolve(new RouteChoice("openai/gpt-4.1", null)).Primary.Id);
        Assert.Equal("local/chat-dev", router.Resolve(new RouteChoice("dev", null)).Primary.Id);
    }

    [Fact]
    public void UnknownModelFailsNamingWhatIsAvailable()
    {
        var router = Router(TwoProviders());

        var error = Assert.Throws<LlmException>(() => router.Resolve(new RouteChoice("gpt-9", null)));
        var provider = Assert.Throws<LlmException>(() => router.Resolve(new RouteChoice(null, "mistral")));

        Assert.Equal(LlmErrorCodes.ModelNotFound, error.Code);
        Assert.Contains("openai/gpt-4o-mini", error.Message);
        Assert.Contains("claude/claude-sonnet-4-5", error.Message);
        Assert.Equal(LlmErrorCodes.ProviderNotFound, provider.Code);
    }

    [Fact]
    public void FallbackChainFollowsThePrimaryWithoutDuplicates()
    {
        var config = TwoProviders();
        config["Llm:Fallback:0"] = "claude";
        config["Llm:Fallback:1"] = "openai/fast";
        config["Llm:Fallback:2"] = "unconfigured-provider";

        var plan = Router(config).Resolve(new RouteChoice("gpt-4o-mini", null));

        Assert.Equal(["openai/gpt-4o-mini", "claude/claude-sonnet-4-5"], plan.Candidates.Select(c => c.Id));
    }

    [Fact]
    public void ModelsListingShowsEveryServableModel()
    {
        var models = Router(TwoProviders()).ListModels();

        // Configuration binds providers in name order; the development model comes last.
        Assert.Equal(["claude/claude-sonnet-4-5", "openai/gpt-4o-mini", "openai/gpt-4.1", "local/chat-dev"], models.Select(m => m.Id));
        Assert.Equal("claude/claude-sonnet-4-5", Assert.Single(models, m => m.IsDefault).Id);
        Assert.Equal(["fast"], models[1].Aliases);
    }
}

[Collection(RedisCollection.Name)]
public sealed class OptionsValidationTests(RedisServerFixture redis)
{
    private async Task<Exception?> StartAsync(Dictionary<string, string?> config)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new Microsoft.Extensions.Hosting.HostApplicationBuilderSettings { DisableDefaults = true });
        Microsoft.Extensions.Configuration.MemoryConfigurationBuilderExtensions.AddInMemoryCollection(builder.Configuration, config);
        Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<Generation.IGenerationStore, RecordingStore>(builder.Services);
        Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton(builder.Services, redis.Redis);
        Microsoft.Extensions.Hosting.LlmServiceExtensions.AddChatLlm(builder);
        using var host = builder.Build();
        var error = await Record.ExceptionAsync(() => host.StartAsync());
        return error;
    }

    [Fact]
    public async Task UnknownProviderTypeFailsAtStart()
    {
        var config = TestConfig.Fast();
        config["Llm:Providers:x:Type"] = "gemini";

        Assert.IsType<Microsoft.Extensions.Options.OptionsValidationException>(await StartAsync(config));
    }

    [Fact]
    public async Task OutOfRangeLocalPacingFailsAtStart()
    {
        var config = TestConfig.Fast();
        config["Llm:Local:ChunkTokens"] = "0";

        Assert.IsType<Microsoft.Extensions.Options.OptionsValidationException>(await StartAsync(config));
    }
}
