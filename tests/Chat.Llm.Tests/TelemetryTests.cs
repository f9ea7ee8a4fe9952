using System.Collections.Concurrent;
using System.Diagnostics;
using Chat.Llm.Providers;
using Chat.Llm.Tests.Infrastructure;
using Microsoft.Extensions.AI;

namespace Chat.Llm.Tests;

/// <summary>The pipeline's OpenTelemetry link: GenAI spans on the <c>Chat.Llm</c> source, prompt text only when enabled.</summary>
[Collection(PacingCollection.Name)]
public sealed class TelemetryTests
{
    private static async Task<List<Activity>> RunAsync(bool sensitive)
    {
        var activities = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == ProviderRegistry.TelemetrySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activities.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var config = TestConfig.Fast();
        config["Llm:EnableSensitiveData"] = sensitive.ToString();
        using var registry = TestConfig.Registry(config);
        var client = registry.GetClient(registry.Models.Single());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await foreach (var _ in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "secret-prompt-text")], new ChatOptions { ModelId = "chat-dev" }, timeout.Token))
        {
        }

        return [.. activities];
    }

    private static string Everything(Activity a) =>
        string.Join("|", a.TagObjects.Select(t => $"{t.Key}={t.Value}").Concat(a.Events.SelectMany(e => e.Tags.Select(t => $"{t.Key}={t.Value}"))));

    [Fact]
    public async Task GenAiSpanIsRecordedWithoutPromptTextByDefault()
    {
        var activity = Assert.Single(await RunAsync(sensitive: false));

        Assert.Equal("chat-dev", activity.GetTagItem("gen_ai.request.model"));
        Assert.NotNull(activity.GetTagItem("gen_ai.usage.output_tokens"));
        Assert.DoesNotContain("secret-prompt-text", Everything(activity));
    }

    [Fact]
    public async Task PromptTextIsRecordedOnlyWhenSensitiveDataIsEnabled()
    {
        var activity = Assert.Single(await RunAsync(sensitive: true));

        Assert.Contains("secret-prompt-text", Everything(activity));
    }
}
