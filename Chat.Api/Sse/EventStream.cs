using System.Globalization;
using System.Net.ServerSentEvents;
using Chat.Messaging.Contracts;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Chat.Api.Sse;

/// <summary>
/// Server-sent events, written by <c>TypedResults.ServerSentEvents</c> (System.Net.ServerSentEvents formats each event
/// and the response is unbuffered, so every event leaves as it is produced). Chat's own SSE carries one generation
/// frame per event: <c>id:</c> = the frame's seq (what a client sends back as <c>Last-Event-ID</c>), <c>event:</c> =
/// the frame type, <c>data:</c> = the frame JSON (the same text as on Redis).
/// </summary>
public static class EventStream
{
    public const string ContentType = "text/event-stream";

    /// <summary>
    /// The events as the response. Besides the result's own headers (no caching), <c>X-Accel-Buffering: no</c> asks a
    /// proxy such as nginx not to hold the stream back.
    /// </summary>
    public static ServerSentEventsResult<string> Result(HttpResponse response, IAsyncEnumerable<SseItem<string>> events)
    {
        response.Headers["X-Accel-Buffering"] = "no";
        return TypedResults.ServerSentEvents(events);
    }

    /// <summary>One event per frame, up to and including the terminal frame.</summary>
    public static async IAsyncEnumerable<SseItem<string>> Frames(IAsyncEnumerable<GenerationFrame> frames)
    {
        await foreach (var frame in frames)
        {
            yield return Frame(frame);
            if (frame.IsTerminal)
            {
                yield break;
            }
        }
    }

    public static SseItem<string> Frame(GenerationFrame frame) =>
        new(frame.ToJson(), frame.Type) { EventId = frame.Seq.ToString(CultureInfo.InvariantCulture) };

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
