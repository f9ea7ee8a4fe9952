using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Chat.Llm.Tests.Infrastructure;

public abstract record Reply;

/// <summary>An HTTP error with the provider's error body, and a <c>Retry-After</c> header when given.</summary>
public sealed record StatusReply(int Status, string? RetryAfter = null) : Reply;

/// <summary>A streamed answer: the deltas (each <paramref name="DelayMs"/> after the last, a scripted slow provider), then
/// a normal end, silence, or a cut connection — cut once <paramref name="CutWhen"/> completes: the test completes it when
/// its client has read the deltas (a reset drops data the client has not read yet).</summary>
public sealed record StreamReply(IReadOnlyList<string> Deltas, StreamEnd End = StreamEnd.Complete, int DelayMs = 0, Task? CutWhen = null) : Reply;

public enum StreamEnd
{
    Complete,
    Cut,
    Stall,
}

/// <summary>
/// A loopback Kestrel server that speaks the real wire formats of OpenAI (<c>/v1/chat/completions</c>, SSE), Azure
/// OpenAI v1 (<c>/openai/v1/chat/completions</c>, api-key header), Anthropic Messages (<c>/v1/messages</c>, SSE with
/// named events) and Ollama (<c>/api/chat</c>, NDJSON). Replies are scripted per test; unscripted calls stream
/// <see cref="DefaultDeltas"/>.
/// </summary>
public sealed class FakeUpstream : IAsyncDisposable
{
    public static readonly IReadOnlyList<string> DefaultDeltas = ["Hello", " from", " the", " upstream"];

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Reply> _script = new();

    private FakeUpstream(WebApplication app) => _app = app;

    public Uri BaseUri { get; private set; } = null!;

    public int Requests => _requests;

    /// <summary>Requests whose whole reply (or error) was written.</summary>
    public int Answered => _answered;

    public ConcurrentQueue<(string Path, string Body, Dictionary<string, string> Headers)> Received { get; } = new();

    private int _requests;
    private int _answered;

    public static async Task<FakeUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var app = builder.Build();
        var upstream = new FakeUpstream(app);
        app.MapPost("/v1/chat/completions", ctx => upstream.HandleAsync(ctx, upstream.OpenAiAsync));
        app.MapPost("/openai/v1/chat/completions", ctx => upstream.HandleAsync(ctx, upstream.OpenAiAsync));
        app.MapPost("/v1/messages", ctx => upstream.HandleAsync(ctx, upstream.AnthropicAsync));
        app.MapPost("/api/chat", ctx => upstream.HandleAsync(ctx, upstream.OllamaAsync));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        upstream.BaseUri = new Uri(address.TrimEnd('/') + "/");
        return upstream;
    }

    public FakeUpstream Enqueue(params Reply[] replies)
    {
        foreach (var r in replies)
        {
            _script.Enqueue(r);
        }

        return this;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext ctx, Func<HttpContext, Reply, string, Task> format)
    {
        Interlocked.Increment(ref _requests);
        using var reader = new StreamReader(ctx.Request.Body);
        var body = await reader.ReadToEndAsync();
        Received.Enqueue((ctx.Request.Path, body, ctx.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase)));
        var reply = _script.TryDequeue(out var r) ? r : new StreamReply(DefaultDeltas);
        var model = JsonDocument.Parse(body).RootElement.TryGetProperty("model", out var m) ? m.GetString() ?? "unknown" : "unknown";
        if (reply is StatusReply { RetryAfter: { } retryAfter })
        {
            ctx.Response.Headers.RetryAfter = retryAfter;
        }

        await format(ctx, reply, model);
        Interlocked.Increment(ref _answered);
    }

    private static async Task EndAsync(HttpContext ctx, StreamReply reply)
    {
        if (reply.End == StreamEnd.Cut)
        {
            var cutWhen = reply.CutWhen ?? throw new InvalidOperationException("A cut stream needs CutWhen: the signal that the client read the deltas.");
            await cutWhen.WaitAsync(TimeSpan.FromSeconds(30), ctx.RequestAborted);
            ctx.Abort();
        }
        else if (reply.End == StreamEnd.Stall)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                // The client gave up (idle timeout) or the server is stopping.
            }
        }
    }

    private static async Task WriteAsync(HttpContext ctx, string text)
    {
        await ctx.Response.WriteAsync(text, ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
    }

    private async Task OpenAiAsync(HttpContext ctx, Reply reply, string model)
    {
        if (reply is StatusReply s)
        {
            ctx.Response.StatusCode = s.Status;
            await ctx.Response.WriteAsJsonAsync(new { error = new { message = $"fake {s.Status}", type = "server_error", param = (string?)null, code = (string?)null } });
            return;
        }

        var stream = (StreamReply)reply;
        ctx.Response.ContentType = "text/event-stream";
        const string id = "chatcmpl-fake";
        string Chunk(object delta, string? finish) => "data: " + JsonSerializer.Serialize(new
        {
            id,
            @object = "chat.completion.chunk",
            created = 1_700_000_000,
            model,
            choices = new[] { new { index = 0, delta, finish_reason = finish } },
        }) + "\n\n";

        await WriteAsync(ctx, Chunk(new { role = "assistant", content = "" }, null));
        foreach (var d in stream.Deltas)
        {
            if (stream.DelayMs > 0)
            {
                await Task.Delay(stream.DelayMs);
            }

            await WriteAsync(ctx, Chunk(new { content = d }, null));
        }

        if (stream.End != StreamEnd.Complete)
        {
            await EndAsync(ctx, stream);
            return;
        }

        await WriteAsync(ctx, Chunk(new { }, "stop"));
        await WriteAsync(ctx, "data: " + JsonSerializer.Serialize(new
        {
            id,
            @object = "chat.completion.chunk",
            created = 1_700_000_000,
            model,
            choices = Array.Empty<object>(),
            usage = new { prompt_tokens = 11, completion_tokens = stream.Deltas.Count, total_tokens = 11 + stream.Deltas.Count },
        }) + "\n\n");
        await WriteAsync(ctx, "data: [DONE]\n\n");
    }

    private async Task AnthropicAsync(HttpContext ctx, Reply reply, string model)
    {
        if (reply is StatusReply s)
        {
            ctx.Response.StatusCode = s.Status;
            var type = s.Status == 429 ? "rate_limit_error" : s.Status >= 500 ? "api_error" : "invalid_request_error";
            await ctx.Response.WriteAsJsonAsync(new { type = "error", error = new { type, message = $"fake {s.Status}" } });
            return;
        }

        var stream = (StreamReply)reply;
        ctx.Response.ContentType = "text/event-stream";
        static string Event(string name, object data) => $"event: {name}\ndata: {JsonSerializer.Serialize(data)}\n\n";
        await WriteAsync(ctx, Event("message_start", new
        {
            type = "message_start",
            message = new
            {
                id = "msg_fake",
                type = "message",
                role = "assistant",
                content = Array.Empty<object>(),
                model,
                stop_reason = (string?)null,
                stop_sequence = (string?)null,
                usage = new { input_tokens = 12, output_tokens = 1 },
            },
        }));
        await WriteAsync(ctx, Event("content_block_start", new { type = "content_block_start", index = 0, content_block = new { type = "text", text = "" } }));
        await WriteAsync(ctx, Event("ping", new { type = "ping" }));
        foreach (var d in stream.Deltas)
        {
            await WriteAsync(ctx, Event("content_block_delta", new { type = "content_block_delta", index = 0, delta = new { type = "text_delta", text = d } }));
        }

        if (stream.End != StreamEnd.Complete)
        {
            await EndAsync(ctx, stream);
            return;
        }

        await WriteAsync(ctx, Event("content_block_stop", new { type = "content_block_stop", index = 0 }));
        await WriteAsync(ctx, Event("message_delta", new
        {
            type = "message_delta",
            delta = new { stop_reason = "end_turn", stop_sequence = (string?)null },
            usage = new { output_tokens = stream.Deltas.Count },
        }));
        await WriteAsync(ctx, Event("message_stop", new { type = "message_stop" }));
    }

    private async Task OllamaAsync(HttpContext ctx, Reply reply, string model)
    {
        if (reply is StatusReply s)
        {
            ctx.Response.StatusCode = s.Status;
            await ctx.Response.WriteAsJsonAsync(new { error = $"fake {s.Status}" });
            return;
        }

        var stream = (StreamReply)reply;
        ctx.Response.ContentType = "application/x-ndjson";
        var sb = new StringBuilder();
        foreach (var d in stream.Deltas)
        {
            await WriteAsync(ctx, JsonSerializer.Serialize(new
            {
                model,
                created_at = "2026-01-01T00:00:00Z",
                message = new { role = "assistant", content = d },
                done = false,
            }) + "\n");
        }

        if (stream.End != StreamEnd.Complete)
        {
            await EndAsync(ctx, stream);
            return;
        }

        await WriteAsync(ctx, JsonSerializer.Serialize(new
        {
            model,
            created_at = "2026-01-01T00:00:01Z",
            message = new { role = "assistant", content = "" },
            done = true,
            done_reason = "stop",
            total_duration = 1000,
            load_duration = 10,
            prompt_eval_count = 9,
            prompt_eval_duration = 10,
            eval_count = stream.Deltas.Count,
            eval_duration = 10,
        }) + "\n");
    }
}
