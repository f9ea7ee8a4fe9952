using System.Net;
using System.Text.Json;
using Chat.Api.Extensions;
using Chat.Api.OpenAi;
using Chat.Api.Services;
using Chat.Api.Sse;
using Chat.Data.Entities;
using Chat.Llm;
using Chat.Llm.Generation;
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

namespace Chat.Api.Tests.Infrastructure;

/// <summary>
/// A loopback Kestrel with Chat.Llm (<c>AddChatLlm</c>, over the test Redis and a <see cref="RecordingStore"/>) and
/// Chat.Api's reply pieces (<see cref="ReplyResolver"/>, <see cref="GenerationFollower"/>, <see cref="OpenAiResponder"/>):
/// <c>/v1/chat/completions</c> and <c>/v1/models</c> as Chat.Api answers them, minus persistence and auth, and Chat's
/// own SSE at <c>/generations</c>.
/// </summary>
public sealed class ApiHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ApiHost(WebApplication app, Uri baseUri)
    {
        _app = app;
        BaseUri = baseUri;
    }

    public Uri BaseUri { get; }

    public static async Task<ApiHost> StartAsync(StackExchange.Redis.IConnectionMultiplexer redis, Dictionary<string, string?> config)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(config);
        builder.Services.AddSingleton(redis);
        builder.Services.AddSingleton<RecordingStore>();
        builder.Services.AddSingleton<IGenerationStore>(sp => sp.GetRequiredService<RecordingStore>());
        builder.Services.AddOptions<MessagesOptions>().BindConfiguration(MessagesOptions.SectionName);
        builder.Services.AddSingleton<ReplyResolver>();
        builder.Services.AddSingleton<GenerationFollower>();
        builder.Services.AddSingleton<OpenAiResponder>();
        builder.AddChatLlm();
        var app = builder.Build();
        app.MapPost("/v1/chat/completions", ChatCompletionsAsync);
        app.MapGet("/v1/models", (ModelRouter router) => Results.Text(
            JsonSerializer.Serialize(OpenAiMapper.ToModelList(router.ListModels(), 0), OpenAiJsonContext.Default.ModelList), "application/json"));
        app.MapPost("/generations", StartGeneration);
        app.MapGet("/generations/{conversationId:guid}/{id:guid}/events", (Guid conversationId, Guid id, HttpContext http, GenerationFollower follower) =>
            EventStream.Result(http.Response, EventStream.Frames(
                follower.Frames(conversationId, id, EventStream.LastEventId(http.Request), null, http.RequestAborted))));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new ApiHost(app, new Uri(address.TrimEnd('/') + "/"));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await _app.DisposeAsync();
    }

    /// <summary>The endpoint as Chat.Api answers it once the reply is started (the conversation and its rows are in memory here).</summary>
    private static async Task<IResult> ChatCompletionsAsync(
        HttpContext http, GenerationPlanner planner, GenerationQueue queue, GenerationFeed feed, OpenAiResponder responder)
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
            return await responder.RespondAsync(http, new ReplyStart(ReplyOutcome.RouteFailed, Error: ex), request, http.RequestAborted);
        }

        var job = prepared.Job;
        var live = request.Stream == true ? feed.Open(job.GenerationId) : null;
        if (!queue.TryEnqueue(job, out var completion))
        {
            live?.Dispose();
            return await responder.RespondAsync(http, new ReplyStart(ReplyOutcome.QueueFull), request, http.RequestAborted);
        }
        var user = new Message { TenantId = "t", UserId = "u", ConversationId = job.ConversationId, Role = MessageRole.User };
        var assistant = new Message
        {
            Id = job.AssistantMessageId, TenantId = "t", UserId = "u", ConversationId = job.ConversationId, Role = MessageRole.Assistant,
            Status = MessageStatus.Streaming, GenerationId = job.GenerationId, Model = prepared.Model.Name,
        };
        return await responder.RespondAsync(http, new ReplyStart(ReplyOutcome.Started, user, assistant, completion, Live: live), request, http.RequestAborted);
    }

    /// <summary>Queues a generation of the local model; answers <c>{conversationId}/{generationId}</c>.</summary>
    private static IResult StartGeneration(GenerationPlanner planner, GenerationQueue queue)
    {
        var conversationId = Guid.CreateVersion7();
        var prepared = planner.Prepare(conversationId, null, null, null, [new Llm.Context.HistoryMessage(Guid.CreateVersion7(), "user", "stream me")]);
        return queue.TryEnqueue(prepared.Job, out _) ? Results.Text($"{conversationId}/{prepared.Job.GenerationId}") : Results.StatusCode(503);
    }
}
