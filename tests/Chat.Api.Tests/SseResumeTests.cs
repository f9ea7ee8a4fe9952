using Chat.Api.Sse;
using Chat.Api.Tests.Infrastructure;
using Chat.Llm.Tests.Infrastructure;
using Chat.Messaging.Contracts;

namespace Chat.Api.Tests;

/// <summary>
/// Chat's own SSE over HTTP as Chat.Api writes it (<see cref="EventStream"/>): <c>id:</c> = seq, and a reconnect with
/// <c>Last-Event-ID</c> gets exactly the rest.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class SseResumeTests(RedisServerFixture redis) : IAsyncLifetime
{
    private ApiHost _host = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        var config = TestConfig.Fast();
        config["Llm:Local:TokensPerSecond"] = "200";
        _host = await ApiHost.StartAsync(redis.Redis, config);
        _http = new HttpClient { BaseAddress = _host.BaseUri, Timeout = TimeSpan.FromSeconds(30) };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _host.DisposeAsync();
    }

    /// <summary>Starts a generation; its events' path.</summary>
    private async Task<string> StartAsync() =>
        $"/generations/{await (await _http.PostAsync("/generations", null)).Content.ReadAsStringAsync()}/events";

    private sealed record SseEvent(long Id, string Event, GenerationFrame Frame);

    private async Task<List<SseEvent>> ReadEventsAsync(string path, long? lastEventId, int? stopAfter = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
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
        var path = await StartAsync();

        var first = await ReadEventsAsync(path, null, stopAfter: 4);
        var rest = await ReadEventsAsync(path, first[^1].Id);

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
        var path = await StartAsync();
        var whole = await ReadEventsAsync(path, null);

        var tail = await ReadEventsAsync(path, whole.Count - 3);

        Assert.Equal(whole.TakeLast(2).Select(e => e.Frame.ToJson()), tail.Select(e => e.Frame.ToJson()));
    }
}
