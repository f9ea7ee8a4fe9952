using System.ClientModel;
using System.Net;
using System.Text.Json;
using Chat.Llm.Generation;
using Chat.Llm.OpenAi;
using Chat.Llm.Routing;
using Chat.Llm.Tests.Infrastructure;
using Chat.Messaging;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenAI;
using OpenAI.Chat;

namespace Chat.Llm.Tests;

/// <summary>
/// The official OpenAI .NET SDK against a minimal <c>/v1/chat/completions</c> built only from Chat.Llm's pieces
/// (router, context builder, queue, Redis follow, OpenAI DTOs, SSE formatter) — the shape Chat.Api maps.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class OpenAiCompatibilityTests(RedisServerFixture redis) : IAsyncLifetime
{
    private WebApplication _app = null!;
    private Uri _baseUri = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(TestConfig.Fast());
        builder.Services.AddSingleton(redis.Redis);
        builder.Services.AddSingleton<RecordingStore>();
        builder.Services.AddSingleton<IGenerationStore>(sp => sp.GetRequiredService<RecordingStore>());
        builder.AddChatLlm();
        _app = builder.Build();
        _app.MapPost("/v1/chat/completions", ChatCompletionsAsync);
        _app.MapGet("/v1/models", (ModelRouter router) => Results.Text(
            JsonSerializer.Serialize(OpenAiMapper.ToModelList(router.ListModels(), 0), OpenAiJsonContext.Default.ModelList), "application/json"));
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _baseUri = new Uri(address.TrimEnd('/') + "/v1/");
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await _app.DisposeAsync();
    }

    /// <summary>The whole endpoint, as Chat.Api would map it (minus persistence and auth).</summary>
    private static async Task ChatCompletionsAsync(HttpContext http, GenerationPlanner planner, GenerationQueue queue, GenerationStreamReader reader)
    {
        var request = (await JsonSerializer.DeserializeAsync(http.Request.Body, OpenAiJsonContext.Default.ChatCompletionRequest))!;
        PreparedGeneration prepared;
        try
        {
            var (system, history) = OpenAiMapper.ToHistory(request);
            prepared = planner.Prepare(Guid.CreateVersion7(), new RouteChoice(request.Model, null), null, system, history, request.EffectiveMaxTokens, request.Temperature);
        }
        catch (LlmException ex)
        {
            var (status, body) = OpenAiMapper.ToError(ex.Code, ex.Message);
            http.Response.StatusCode = status;
            await http.Response.WriteAsync(OpenAiMapper.Serialize(body));
            return;
        }

        var job = prepared.Job;
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (!queue.TryEnqueue(job, out var completion))
        {
            var (status, body) = OpenAiMapper.ToError("queue_full", "Too many generations in progress; retry shortly.");
            http.Response.StatusCode = status;
            await http.Response.WriteAsync(OpenAiMapper.Serialize(body));
            return;
        }

        if (request.Stream != true)
        {
            var outcome = await completion.WaitAsync(TimeSpan.FromSeconds(30));
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(OpenAiMapper.Serialize(OpenAiMapper.ToResponse(outcome, created)));
            return;
        }

        var frames = reader.FollowAsync(job.ConversationId, job.GenerationId, -1, TimeSpan.FromSeconds(30), http.RequestAborted);
        await SseStreaming.WriteChatCompletionChunksAsync(http.Response, frames, prepared.Model.Name, created, request.IncludeUsage, http.RequestAborted);
    }

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
