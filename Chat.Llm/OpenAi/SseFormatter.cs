using System.Globalization;
using System.Text;
using Chat.Messaging.Contracts;
using Microsoft.AspNetCore.Http;

namespace Chat.Llm.OpenAi;

/// <summary>
/// Server-sent events text. Chat's own SSE carries one generation frame per event: <c>id:</c> = the frame's seq
/// (what a client sends back as <c>Last-Event-ID</c>), <c>event:</c> = the frame type, <c>data:</c> = the frame JSON
/// (the same text as on Redis). The OpenAI-compatible stream is <c>data: {chunk}</c> events ending with
/// <c>data: [DONE]</c>.
/// </summary>
public static class SseFormatter
{
    public const string ContentType = "text/event-stream";
    public const string Done = "data: [DONE]\n\n";

    /// <summary>One event; multi-line data becomes several <c>data:</c> lines.</summary>
    public static string Event(string data, string? eventName = null, string? id = null)
    {
        var sb = new StringBuilder();
        if (id is not null)
        {
            sb.Append("id: ").Append(id).Append('\n');
        }

        if (eventName is not null)
        {
            sb.Append("event: ").Append(eventName).Append('\n');
        }

        foreach (var line in data.Split('\n'))
        {
            sb.Append("data: ").Append(line.TrimEnd('\r')).Append('\n');
        }

        return sb.Append('\n').ToString();
    }

    public static string Frame(GenerationFrame frame) =>
        Event(frame.ToJson(), frame.Type, frame.Seq.ToString(CultureInfo.InvariantCulture));

    public static string Chunk(ChatCompletionChunk chunk) => Event(OpenAiMapper.Serialize(chunk));

    public static string Error(OpenAiErrorResponse error) => Event(OpenAiMapper.Serialize(error));

    /// <summary>Sets the SSE headers (no caching, no proxy buffering) and sends them.</summary>
    public static async Task StartAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        response.ContentType = ContentType;
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.Body.FlushAsync(cancellationToken);
    }

    public static async Task WriteAsync(HttpResponse response, string sse, CancellationToken cancellationToken)
    {
        await response.WriteAsync(sse, cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    /// <summary>The seq a reconnecting client has seen (<c>Last-Event-ID</c> header, else <c>lastEventId</c> query), or -1.</summary>
    public static long LastEventId(HttpRequest request)
    {
        var value = request.Headers["Last-Event-ID"].ToString();
        if (string.IsNullOrEmpty(value))
        {
            value = request.Query["lastEventId"].ToString();
        }

        return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seq) ? seq : -1;
    }

    /// <summary>True when the client asked for an event stream.</summary>
    public static bool WantsEventStream(HttpRequest request) =>
        request.Headers.Accept.Any(a => a is not null && a.Contains(ContentType, StringComparison.OrdinalIgnoreCase));
}
