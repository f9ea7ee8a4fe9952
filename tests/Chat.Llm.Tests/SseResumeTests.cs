using System.Collections.Concurrent;
using System.Net;
using Chat.Llm.Generation;
using Chat.Llm.OpenAi;
using Chat.Llm.Tests.Infrastructure;
using Chat.Messaging;
using Chat.Messaging.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Chat.Llm.Tests;

/// <summary>Chat's own SSE over HTTP: <c>id:</c> = seq, and a reconnect with <c>Last-Event-ID</c> gets exactly the rest.</summary>
[Collection(RedisCollection.Name)]
public sealed class SseResumeTests(RedisServerFixture redis) : IAsyncLifetime
{
    private readonly ConcurrentDictionary<Guid, Guid> _conversationOf = new();
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var config = TestConfig.Fast();
        config["Llm:Local:TokensPerSecond"] = "200";
        builder.Configuration.AddInMemoryCollection(config);
        builder.Services.AddSingleton(redis.Redis);
        builder.Services.AddSingleton<RecordingStore>();
        builder.Services.AddSingleton<IGenerationStore>(sp => sp.GetRequiredService<RecordingStore>());
        builder.AddChatLlm();
        _app = builder.Build();
        _app.MapPost("/generations", (GenerationPlanner planner, GenerationQueue queue) =>
        {
            var conversationId = Guid.CreateVersion7();
            var prepared = planner.Prepare(conversationId, null, null, null, [new Context.HistoryMessage(Guid.CreateVersion7(), "user", "stream me")]);
            _conversationOf[prepared.Job.GenerationId] = conversationId;
            return queue.TryEnqueue(prepared.Job, out _) ? Results.Text(prepared.Job.GenerationId.ToString()) : Results.StatusCode(503);
        });
        _app.MapGet("/generations/{id:guid}/events", async (Guid id, HttpContext http, GenerationStreamReader reader) =>
        {
            var frames = reader.FollowAsync(_conversationOf[id], id, SseFormatter.LastEventId(http.Request), TimeSpan.FromSeconds(10), http.RequestAborted);
            await SseStreaming.WriteFramesAsync(http.Response, frames, http.RequestAborted);
        });
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _http = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(30) };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await _app.DisposeAsync();
    }

    private sealed record SseEvent(long Id, string Event, GenerationFrame Frame);

    private async Task<List<SseEvent>> ReadEventsAsync(Guid generationId, long? lastEventId, int? stopAfter = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/generations/{generationId}/events");
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is { } last)
        {
            request.Headers.Add("Last-Event-ID", last.ToString());
        }

        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<SseEvent>();
        string? id = null, name = null, data = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0)
            {
                events.Add(new SseEvent(long.Parse(id!), name!, GenerationFrame.FromJson(data!)!));
                id = name = data = null;
                if (events.Count == stopAfter)
                {
                    break; // the client drops the connection
                }

                continue;
            }

            if (line.StartsWith("id: "))
            {
                id = line[4..];
            }
            else if (line.StartsWith("event: "))
            {
                name = line[7..];
            }
            else if (line.StartsWith("data: "))
            {
                data = line[6..];
            }
        }

        return events;
    }

    [Fact]
    public async Task ReconnectWithLastEventIdGetsExactlyTheMissingEvents()
    {
        var generationId = Guid.Parse(await (await _http.PostAsync("/generations", null)).Content.ReadAsStringAsync());

        var first = await ReadEventsAsync(generationId, null, stopAfter: 4);
        var rest = await ReadEventsAsync(generationId, first[^1].Id);

        var all = first.Concat(rest).ToList();
        Assert.Equal(Enumerable.Range(0, all.Count).Select(i => (long)i), all.Select(e => e.Id));
        Assert.All(all, e => Assert.Equal(e.Frame.Seq, e.Id));
        Assert.All(all, e => Assert.Equal(e.Frame.Type, e.Event));
        Assert.Equal(FrameTypes.Completed, rest[^1].Event);
        Assert.Equal(4, rest[0].Id);
    }

    [Fact]
    public async Task ReconnectAfterTheEndReplaysTheTailFromTheStream()
    {
        var generationId = Guid.Parse(await (await _http.PostAsync("/generations", null)).Content.ReadAsStringAsync());
        var whole = await ReadEventsAsync(generationId, null);

        var tail = await ReadEventsAsync(generationId, whole.Count - 3);

        Assert.Equal(whole.TakeLast(2).Select(e => e.Frame.ToJson()), tail.Select(e => e.Frame.ToJson()));
    }
}
