using System.Net;
using System.Net.ServerSentEvents;
using Chat.Api.Sse;
using Chat.Messaging.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.Api.Tests;

/// <summary>The SSE response itself: its headers, the exact wire text of an event, and that each event leaves as it is produced.</summary>
public sealed class EventStreamTests : IAsyncLifetime
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(30);
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapGet("/events", (HttpContext http) => EventStream.Result(http.Response, EventStream.Frames(FramesAsync())));
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _http = new HttpClient { BaseAddress = new Uri(address), Timeout = s_bound };
    }

    public async Task DisposeAsync()
    {
        _release.TrySetResult();
        _http.Dispose();
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await _app.DisposeAsync();
    }

    private static readonly Guid s_generation = Guid.Parse("0193a5a0-0000-7000-8000-000000000001");

    private static GenerationFrame Frame(string type, long seq, string? delta = null) => new()
    {
        Type = type, ConversationId = s_generation, GenerationId = s_generation, MessageId = s_generation, Seq = seq, Delta = delta,
    };

    /// <summary>One frame, then nothing until the test has read it; then a chunk, the terminal frame, and one more that must not be sent.</summary>
    private async IAsyncEnumerable<GenerationFrame> FramesAsync()
    {
        yield return Frame(FrameTypes.Started, 0);
        await _release.Task;
        yield return Frame(FrameTypes.Chunk, 1, "hi");
        yield return Frame(FrameTypes.Completed, 2);
        yield return Frame(FrameTypes.Chunk, 3, "after the end");
    }

    [Fact]
    public async Task EachEventIsSentBeforeTheNextIsProducedWithIdTypeAndFrameJson()
    {
        using var cts = new CancellationTokenSource(s_bound);
        using var response = await _http.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("no-cache", response.Headers.CacheControl?.ToString());
        Assert.Equal("no", response.Headers.GetValues("X-Accel-Buffering").Single());
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));

        // The first event arrives while the source still holds back the second: the response is not buffered. Its
        // fields, in whatever order (SSE gives the order no meaning), then the blank line that ends it.
        var first = Frame(FrameTypes.Started, 0);
        var lines = new List<string>();
        while (await reader.ReadLineAsync(cts.Token) is { Length: > 0 } line)
        {
            lines.Add(line);
        }
        Assert.Equal(["data: " + first.ToJson(), "event: generation.started", "id: 0"], lines.Order(StringComparer.Ordinal));

        _release.SetResult();
        var rest = await reader.ReadToEndAsync(cts.Token);
        var items = SseParser.Create(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(rest))).Enumerate().ToList();
        Assert.Equal(["chunk", "generation.completed"], items.Select(i => i.EventType));
        Assert.Equal(["1", "2"], items.Select(i => i.EventId));
        Assert.Equal("hi", GenerationFrame.FromJson(items[0].Data)!.Delta);
    }
}
