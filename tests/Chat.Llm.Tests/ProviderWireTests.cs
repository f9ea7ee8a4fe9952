using Chat.Llm.Providers;
using Chat.Llm.Routing;
using Chat.Llm.Tests.Infrastructure;
using Chat.Tests.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;

namespace Chat.Llm.Tests;

/// <summary>The real provider SDK clients (OpenAI via Microsoft.Extensions.AI.OpenAI, Anthropic, OllamaSharp), wrapped in
/// our pipeline, against a loopback upstream that speaks each provider's wire format.</summary>
public sealed class ProviderWireTests : IAsyncLifetime
{
    private const int RetryingEventId = 4001; // LlmLog.RetryingProviderCall

    private FakeUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    private static readonly ChatMessage[] s_prompt = [new(ChatRole.User, "Say hello")];

    private static async Task<(string Text, List<ChatResponseUpdate> Updates)> StreamAsync(IChatClient client, string model)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync(s_prompt, new ChatOptions { ModelId = model }, timeout.Token))
        {
            updates.Add(u);
        }

        return (string.Concat(updates.Select(u => u.Text)), updates);
    }

    private static IChatClient Client(
        string type, Uri? endpoint, string? key = "test-key", string model = "gpt-4o-mini", string idle = "00:00:05",
        string firstToken = "00:00:30", LogCapture? logs = null, TimeProvider? time = null)
    {
        var config = TestConfig.Fast().WithProvider("p", type, endpoint, key, model);
        config["Llm:Timeouts:Idle"] = idle;
        config["Llm:Timeouts:FirstToken"] = firstToken;
        var registry = TestConfig.Registry(config, logs, time);
        var route = new ModelRouter(registry, Microsoft.Extensions.Options.Options.Create(TestConfig.Bind(TestConfig.Fast()))).Resolve(new RouteChoice(null, "p"));
        return registry.GetClient(route.Primary);
    }

    [Fact]
    public async Task OpenAiStreamingThroughRealClientYieldsDeltasFinishReasonAndUsage()
    {
        var (text, updates) = await StreamAsync(Client(ProviderTypes.OpenAI, new Uri(_upstream.BaseUri, "v1/")), "gpt-4o-mini");

        Assert.Equal("Hello from the upstream", text);
        Assert.Contains(updates, u => u.FinishReason == ChatFinishReason.Stop);
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single();
        Assert.Equal(11, usage.Details.InputTokenCount);
        Assert.Equal(4, usage.Details.OutputTokenCount);
        var (path, body, headers) = Assert.Single(_upstream.Received);
        Assert.Equal("/v1/chat/completions", path);
        Assert.Contains("\"stream\":true", body);
        Assert.Equal("Bearer test-key", headers["Authorization"]);
    }

    [Fact]
    public async Task OpenAiTransientStatusesBeforeFirstTokenAreRetried()
    {
        _upstream.Enqueue(new StatusReply(429), new StatusReply(503));

        var (text, _) = await StreamAsync(Client(ProviderTypes.OpenAI, new Uri(_upstream.BaseUri, "v1/")), "gpt-4o-mini");

        Assert.Equal("Hello from the upstream", text);
        Assert.Equal(3, _upstream.Requests);
    }

    [Fact]
    public async Task OpenAiRetriesExhaustedFailWithRateLimitCode()
    {
        _upstream.Enqueue(new StatusReply(429), new StatusReply(429), new StatusReply(429), new StatusReply(429));

        var error = await Assert.ThrowsAsync<LlmException>(() => StreamAsync(Client(ProviderTypes.OpenAI, new Uri(_upstream.BaseUri, "v1/")), "gpt-4o-mini"));

        Assert.Equal(LlmErrorCodes.RateLimited, error.Code);
        Assert.Equal(3, _upstream.Requests); // 1 + MaxRetries (2)
    }

    [Fact]
    public async Task OpenAiClientErrorIsNotRetried()
    {
        _upstream.Enqueue(new StatusReply(400));

        var error = await Assert.ThrowsAsync<LlmException>(() => StreamAsync(Client(ProviderTypes.OpenAI, new Uri(_upstream.BaseUri, "v1/")), "gpt-4o-mini"));

        Assert.Equal(LlmErrorCodes.UpstreamRejected, error.Code);
        Assert.Equal(400, error.UpstreamStatus);
        Assert.Equal(1, _upstream.Requests);
    }

    [Fact]
    public async Task OpenAiStreamCutMidwayFailsWithoutRetryAfterText()
    {
        var cut = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _upstream.Enqueue(new StreamReply(["Partial", " answer"], StreamEnd.Cut, CutWhen: cut.Task));
        var client = Client(ProviderTypes.OpenAI, new Uri(_upstream.BaseUri, "v1/"), idle: "00:00:05");
        var received = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var error = await Assert.ThrowsAsync<LlmException>(async () =>
        {
            await foreach (var u in client.GetStreamingResponseAsync(s_prompt, new ChatOptions { ModelId = "gpt-4o-mini" }).WithCancellation(timeout.Token))
            {
                received.Add(u.Text);
                CutOnceRead(received, cut);
            }
        });

        Assert.Equal(LlmErrorCodes.StreamInterrupted, error.Code);
        Assert.Equal("Partial answer", string.Concat(received));
        Assert.Equal(1, _upstream.Requests);
    }

    [Fact]
    public async Task OpenAiStalledStreamFailsWithIdleTimeout()
    {
        _upstream.Enqueue(new StreamReply(["Started"], StreamEnd.Stall));
        var started = DateTime.UtcNow;

        var error = await Assert.ThrowsAsync<LlmException>(() => StreamAsync(Client(ProviderTypes.OpenAI, new Uri(_upstream.BaseUri, "v1/"), idle: "00:00:00.500"), "gpt-4o-mini"));

        Assert.Equal(LlmErrorCodes.IdleTimeout, error.Code);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task OpenAiCompatibleWithoutKeyStreamsFromBaseUrl()
    {
        var (text, _) = await StreamAsync(Client(ProviderTypes.OpenAICompatible, new Uri(_upstream.BaseUri, "v1/"), key: null, model: "deepseek-chat"), "deepseek-chat");

        Assert.Equal("Hello from the upstream", text);
        Assert.Contains("\"model\":\"deepseek-chat\"", Assert.Single(_upstream.Received).Body);
    }

    [Fact]
    public async Task AzureOpenAiUsesV1PathAndApiKeyHeader()
    {
        var (text, _) = await StreamAsync(Client(ProviderTypes.AzureOpenAI, _upstream.BaseUri, key: "azure-key", model: "my-deployment"), "my-deployment");

        Assert.Equal("Hello from the upstream", text);
        var (path, body, headers) = Assert.Single(_upstream.Received);
        Assert.Equal("/openai/v1/chat/completions", path);
        Assert.Equal("azure-key", headers["api-key"]);
        Assert.Contains("\"model\":\"my-deployment\"", body);
    }

    [Fact]
    public async Task AnthropicStreamingThroughRealClientYieldsDeltasAndUsage()
    {
        var (text, updates) = await StreamAsync(Client(ProviderTypes.Anthropic, _upstream.BaseUri, model: "claude-test"), "claude-test");

        Assert.Equal("Hello from the upstream", text);
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Last();
        Assert.Equal(4, usage.Details.OutputTokenCount);
        var (path, body, headers) = Assert.Single(_upstream.Received);
        Assert.Equal("/v1/messages", path);
        Assert.Contains("\"stream\":true", body);
        Assert.Contains("claude-test", body);
    }

    [Fact]
    public async Task AnthropicOverloadedBeforeFirstTokenIsRetried()
    {
        _upstream.Enqueue(new StatusReply(529), new StatusReply(429));

        var (text, _) = await StreamAsync(Client(ProviderTypes.Anthropic, _upstream.BaseUri, model: "claude-test"), "claude-test");

        Assert.Equal("Hello from the upstream", text);
        Assert.Equal(3, _upstream.Requests);
    }

    [Fact]
    public async Task OllamaStreamingThroughRealClientYieldsDeltas()
    {
        var (text, updates) = await StreamAsync(Client(ProviderTypes.Ollama, _upstream.BaseUri, key: null, model: "llama3.2"), "llama3.2");

        Assert.Equal("Hello from the upstream", text);
        Assert.Contains(updates, u => u.FinishReason == ChatFinishReason.Stop);
        Assert.Equal("/api/chat", Assert.Single(_upstream.Received).Path);
    }

    [Fact]
    public async Task OllamaServerErrorBeforeFirstTokenIsRetried()
    {
        _upstream.Enqueue(new StatusReply(500));

        var (text, _) = await StreamAsync(Client(ProviderTypes.Ollama, _upstream.BaseUri, key: null, model: "llama3.2"), "llama3.2");

        Assert.Equal("Hello from the upstream", text);
        Assert.Equal(2, _upstream.Requests);
    }

    private IChatClient ClientOf(string type, string idle = "00:00:05", LogCapture? logs = null, TimeProvider? time = null) => type switch
    {
        ProviderTypes.Anthropic => Client(type, _upstream.BaseUri, model: "claude-test", idle: idle, logs: logs, time: time),
        ProviderTypes.Ollama => Client(type, _upstream.BaseUri, key: null, model: "llama3.2", idle: idle, logs: logs, time: time),
        _ => Client(type, new Uri(_upstream.BaseUri, "v1/"), idle: idle, logs: logs, time: time),
    };

    /// <summary>Lets the upstream cut the connection once the client has read "Partial answer".</summary>
    private static void CutOnceRead(List<string> received, TaskCompletionSource cut)
    {
        if (string.Concat(received) == "Partial answer")
        {
            cut.TrySetResult();
        }
    }

    [Theory]
    [InlineData(ProviderTypes.OpenAI)]
    [InlineData(ProviderTypes.Anthropic)]
    [InlineData(ProviderTypes.Ollama)]
    public async Task RateLimitWithRetryAfterIsRetriedOnlyOnceTheProviderSaidElapsed(string type)
    {
        _upstream.Enqueue(new StatusReply(429, RetryAfter: "1"));
        var logs = new LogCapture();
        var time = new FakeTimeProvider();

        var streaming = StreamAsync(ClientOf(type, logs: logs, time: time), "m");

        // The retry is scheduled (logged just before its delay starts) and waits on a clock that does not move.
        await RedisServer.WaitUntilAsync(() => logs.Of(RetryingEventId).Count == 1, "the retry to be scheduled");
        var retry = logs.Of(RetryingEventId)[0];
        Assert.Equal(LlmErrorCodes.RateLimited, retry["Code"]);
        Assert.Equal(1000d, retry["DelayMs"]); // Retry-After: 1, not the 10 ms back-off of TestConfig.Fast
        Assert.Equal(1, _upstream.Requests);
        Assert.False(streaming.IsCompleted);

        time.Advance(TimeSpan.FromSeconds(1));
        var (text, _) = await streaming.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal("Hello from the upstream", text);
        Assert.Equal(2, _upstream.Requests);
    }

    [Fact]
    public async Task RetryAfterLongerThanMaxDelayFailsAtOnceWithRateLimitCode()
    {
        _upstream.Enqueue(new StatusReply(429, RetryAfter: "60")); // MaxDelay is 8 s by default

        var error = await Assert.ThrowsAsync<LlmException>(() => StreamAsync(ClientOf(ProviderTypes.OpenAI), "m"));

        Assert.Equal(LlmErrorCodes.RateLimited, error.Code);
        Assert.Equal(TimeSpan.FromSeconds(60), error.RetryAfter);
        Assert.Equal(1, _upstream.Requests);
    }

    [Fact]
    public async Task StreamCutBeforeItsFirstTextIsRetried()
    {
        // OpenAI's first chunk carries the role and no text: the attempt has not produced anything yet.
        _upstream.Enqueue(new StreamReply([], StreamEnd.Cut, CutWhen: Task.CompletedTask));

        var (text, _) = await StreamAsync(ClientOf(ProviderTypes.OpenAI), "m");

        Assert.Equal("Hello from the upstream", text);
        Assert.Equal(2, _upstream.Requests);
    }

    [Fact]
    public async Task StreamWithoutTextWithinTheFirstTokenTimeoutIsRetried()
    {
        _upstream.Enqueue(new StreamReply([], StreamEnd.Stall));
        // 1 s: long enough for the retried attempt's first update on a loaded machine.
        var client = Client(ProviderTypes.OpenAI, new Uri(_upstream.BaseUri, "v1/"), firstToken: "00:00:01");

        var (text, _) = await StreamAsync(client, "m");

        Assert.Equal("Hello from the upstream", text);
        Assert.Equal(2, _upstream.Requests);
    }

    [Fact]
    public async Task UpdatesWithoutTextKeepAStreamAlivePastTheFirstTokenTimeout()
    {
        // A reasoning model thinks before it writes: updates without text for 4 × 500 ms, longer than the first-token
        // timeout (1.5 s) but each well within the idle timeout (3 s). The first update (the role, sent at once) ends the
        // first-token wait. Margins of a second or more: a loaded machine delays the first update by hundreds of ms.
        _upstream.Enqueue(new StreamReply(["", "", "", "", "Thought through"], DelayMs: 500));
        var client = Client(ProviderTypes.OpenAI, new Uri(_upstream.BaseUri, "v1/"), idle: "00:00:03", firstToken: "00:00:01.500");

        var (text, _) = await StreamAsync(client, "m");

        Assert.Equal("Thought through", text);
        Assert.Equal(1, _upstream.Requests);
    }

    [Fact]
    public async Task StreamWithoutTextFailsWithFirstTokenTimeoutOnceRetriesAreSpent()
    {
        _upstream.Enqueue(new StreamReply([], StreamEnd.Stall), new StreamReply([], StreamEnd.Stall), new StreamReply([], StreamEnd.Stall));
        var logs = new LogCapture();
        var client = Client(ProviderTypes.OpenAI, new Uri(_upstream.BaseUri, "v1/"), firstToken: "00:00:00.300", logs: logs);

        var error = await Assert.ThrowsAsync<LlmException>(() => StreamAsync(client, "m"));

        Assert.Equal(LlmErrorCodes.FirstTokenTimeout, error.Code);
        // Counted by the client, not the upstream: on a loaded machine an attempt may time out before its request arrives.
        Assert.Equal(3, Assert.Single(logs.Of(4002))["Attempts"]); // 1 + MaxRetries (2)
    }

    [Theory]
    [InlineData(ProviderTypes.OpenAI)]
    [InlineData(ProviderTypes.Anthropic)]
    [InlineData(ProviderTypes.Ollama)]
    public async Task EveryProviderReportsACutStreamAsInterruptedWithItsPartialText(string type)
    {
        var cut = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _upstream.Enqueue(new StreamReply(["Partial", " answer"], StreamEnd.Cut, CutWhen: cut.Task));
        var client = ClientOf(type, idle: "00:00:05");
        var received = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var error = await Assert.ThrowsAsync<LlmException>(async () =>
        {
            await foreach (var u in client.GetStreamingResponseAsync(s_prompt, null, timeout.Token))
            {
                received.Add(u.Text);
                CutOnceRead(received, cut);
            }
        });

        Assert.Equal(LlmErrorCodes.StreamInterrupted, error.Code);
        Assert.Equal("Partial answer", string.Concat(received));
        Assert.Equal(1, _upstream.Requests);
    }

    [Theory]
    [InlineData(ProviderTypes.OpenAI)]
    [InlineData(ProviderTypes.Anthropic)]
    [InlineData(ProviderTypes.Ollama)]
    public async Task EveryProviderFailsAStalledStreamWithIdleTimeout(string type)
    {
        _upstream.Enqueue(new StreamReply(["Started"], StreamEnd.Stall));

        var error = await Assert.ThrowsAsync<LlmException>(() => StreamAsync(ClientOf(type, idle: "00:00:00.500"), "m"));

        Assert.Equal(LlmErrorCodes.IdleTimeout, error.Code);
        Assert.Equal(1, _upstream.Requests);
    }
}
