using System.ClientModel;
using System.Text.Json;
using Chat.Api.OpenAi;
using Chat.Api.Tests.Infrastructure;
using Chat.Llm.Tests.Infrastructure;
using OpenAI;
using OpenAI.Chat;

namespace Chat.Api.Tests;

/// <summary>
/// The official OpenAI .NET SDK against <c>/v1/chat/completions</c> as Chat.Api answers it (<see cref="OpenAiResponder"/>,
/// the OpenAI DTOs and stream), over Chat.Llm's router, queue and Redis follow (<see cref="ApiHost"/>).
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class OpenAiCompatibilityTests(RedisServerFixture redis) : IAsyncLifetime
{
    private ApiHost _host = null!;
    private Uri _baseUri = null!;

    public async Task InitializeAsync()
    {
        _host = await ApiHost.StartAsync(redis.Redis, TestConfig.Fast());
        _baseUri = new Uri(_host.BaseUri, "v1/");
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private ChatClient Client(string model) =>
        new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = _baseUri }).GetChatClient(model);

    [Fact]
    public async Task OfficialSdkCompletesAChat()
    {
        ChatCompletion completion = await Client("chat-dev").CompleteChatAsync(
            [new SystemChatMessage("Be brief."), new UserChatMessage("Ping?")],
            new ChatCompletionOptions { MaxOutputTokenCount = 200 });

        Assert.StartsWith("[chat-dev", completion.Content[0].Text);
        Assert.Contains("\"Ping?\"", completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal("chat-dev", completion.Model);
        Assert.True(completion.Usage.OutputTokenCount > 0);
    }

    [Fact]
    public async Task OfficialSdkStreamsAChatWithUsage()
    {
        var text = new System.Text.StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var update in Client("dev").CompleteChatStreamingAsync([new UserChatMessage("Stream please")], cancellationToken: timeout.Token))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            usage ??= update.Usage;
            finish ??= update.FinishReason;
        }

        Assert.StartsWith("[chat-dev", text.ToString());
        Assert.Contains("\"Stream please\"", text.ToString());
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.NotNull(usage);
        Assert.True(usage.OutputTokenCount > 0);
    }

    [Fact]
    public async Task UnknownModelReturnsOpenAiShapedError()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(() => Client("gpt-nope").CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(404, error.Status);
        var body = JsonDocument.Parse(error.GetRawResponse()!.Content.ToString()).RootElement.GetProperty("error");
        Assert.Equal("model_not_found", body.GetProperty("code").GetString());
        Assert.Equal("invalid_request_error", body.GetProperty("type").GetString());
    }

    [Fact]
    public async Task RequestContentPartsAreJoined()
    {
        const string json = """{"model":"chat-dev","messages":[{"role":"developer","content":"rules"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],"stream":true,"stream_options":{"include_usage":true}}""";

        var request = JsonSerializer.Deserialize(json, OpenAiJsonContext.Default.ChatCompletionRequest)!;
        var (system, history) = OpenAiMapper.ToHistory(request);

        Assert.Equal("rules", system);
        Assert.Equal("a\nb", Assert.Single(history).Content);
        Assert.True(request.IncludeUsage);
        await Task.CompletedTask;
    }
}
