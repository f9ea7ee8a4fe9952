using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Chat.Messaging;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.IntegrationTests;

/// <summary>
/// A loopback stand-in for the two Chat.Api routes Chat.Streaming calls, speaking exactly the contract in
/// docs/PROTOCOL.md ("Chat.Api contract"): <c>GET /api/v1/conversations/{id}</c> (200 for the owner, 404 otherwise) and
/// <c>POST /api/v1/conversations/{id}/messages</c> with <c>Prefer: respond-async</c> (202, then the generation's frames
/// on Redis, stopping with <c>generation.cancelled</c> when its id arrives on the cancel channel).
/// </summary>
public sealed class StreamingApiStub : IAsyncDisposable
{
    private readonly ConcurrentDictionary<Guid, (string Tenant, string User)> _owners = new();
    private readonly ConcurrentDictionary<Guid, CancellationTokenSource> _running = new();
    private readonly List<Task> _generations = [];
    private WebApplication _app = null!;

    public Uri Address { get; private set; } = null!;

    public StreamingGenerations? Generations { get; set; }

    public ConcurrentQueue<(string Method, string Path, string? Authorization, string? Prefer, string Body)> Requests { get; } = new();

    public ConcurrentQueue<Guid> Cancels { get; } = new();

    public int ChunksPerGeneration { get; set; } = 30;

    public TimeSpan ChunkDelay { get; set; } = TimeSpan.FromMilliseconds(5);

    public Guid AddConversation(string tenant, string user)
    {
        var id = Guid.CreateVersion7();
        _owners[id] = (tenant, user);
        return id;
    }

    public static async Task<StreamingApiStub> StartAsync()
    {
        var stub = new StreamingApiStub();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        stub._app = builder.Build();
        stub._app.MapGet("/api/v1/conversations/{id:guid}", stub.GetConversation);
        stub._app.MapPost("/api/v1/conversations/{id:guid}/messages", stub.PostMessageAsync);
        await stub._app.StartAsync();
        var address = stub._app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        stub.Address = new Uri(address);
        return stub;
    }

    /// <summary>Listens on the cancel channel the way Chat.Api does.</summary>
    public async Task ListenForCancelsAsync()
    {
        // Subscribed for as long as the test Redis connection lives.
        _ = await new GenerationCancelBus(Generations!.Redis).SubscribeAsync(id =>
        {
            Cancels.Enqueue(id);
            if (_running.TryGetValue(id, out var cts))
            {
                cts.Cancel();
            }
        });
    }

    private IResult GetConversation(Guid id, HttpRequest request)
    {
        Record(request, "");
        return Owns(request, id) ? Results.Ok(new { id }) : NotFound();
    }

    private async Task<IResult> PostMessageAsync(Guid id, HttpRequest request)
    {
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        Record(request, body);
        if (!Owns(request, id))
        {
            return NotFound();
        }
        using var document = JsonDocument.Parse(body);
        if (!document.RootElement.TryGetProperty("content", out var content) || content.GetString() == "reject-me")
        {
            return Results.Problem(title: "Content is invalid.", statusCode: 422, extensions: new Dictionary<string, object?> { ["code"] = "validation_failed" });
        }
        var userMessageId = Guid.CreateVersion7();
        var generationId = Guid.CreateVersion7();
        var assistantMessageId = Guid.CreateVersion7();
        var cts = new CancellationTokenSource();
        _running[generationId] = cts;
        lock (_generations)
        {
            _generations.Add(RunGenerationAsync(id, generationId, assistantMessageId, cts.Token));
        }
        return Results.Json(new
        {
            userMessage = new { id = userMessageId },
            generation = new { id = generationId, status = "running" },
            assistantMessageId,
        }, statusCode: 202);
    }

    private async Task RunGenerationAsync(Guid conversationId, Guid generationId, Guid messageId, CancellationToken cancellationToken)
    {
        var generations = Generations!;
        await generations.PublishAsync(StreamingGenerations.Started(conversationId, generationId, messageId));
        var seq = 1;
        for (; seq <= ChunksPerGeneration; seq++)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                await generations.PublishAsync(StreamingGenerations.Cancelled(conversationId, generationId, messageId, seq));
                return;
            }
            await generations.PublishAsync(StreamingGenerations.Chunk(conversationId, generationId, seq));
            await Task.Delay(ChunkDelay, CancellationToken.None);
        }
        await generations.PublishAsync(StreamingGenerations.Completed(conversationId, generationId, messageId, seq));
    }

    private void Record(HttpRequest request, string body) => Requests.Enqueue((
        request.Method, request.Path.ToString(), request.Headers.Authorization.ToString(), request.Headers["Prefer"].ToString(), body));

    private bool Owns(HttpRequest request, Guid id)
    {
        var caller = Caller(request);
        return caller is not null && _owners.TryGetValue(id, out var owner) && owner == caller;
    }

    /// <summary>Reads sub and tenant_id from the bearer token (the real API validates it; the stub trusts Chat.Streaming did).</summary>
    private static (string Tenant, string User)? Caller(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return null;
        }
        var parts = header["Bearer ".Length..].Split('.');
        if (parts.Length != 3)
        {
            return null;
        }
        var payload = parts[1].Replace('-', '+').Replace('_', '/');
        payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
        using var document = JsonDocument.Parse(Convert.FromBase64String(payload));
        return (document.RootElement.GetProperty("tenant_id").GetString()!, document.RootElement.GetProperty("sub").GetString()!);
    }

    private static IResult NotFound() => Results.Problem(
        title: "Conversation not found.", statusCode: 404, extensions: new Dictionary<string, object?> { ["code"] = "conversation_not_found" });

    public async ValueTask DisposeAsync()
    {
        foreach (var cts in _running.Values)
        {
            await cts.CancelAsync();
        }
        Task[] pending;
        lock (_generations)
        {
            pending = [.. _generations];
        }
        await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(30));
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
