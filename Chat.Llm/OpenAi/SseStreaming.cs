using Chat.Messaging.Contracts;
using Microsoft.AspNetCore.Http;

namespace Chat.Llm.OpenAi;

/// <summary>Writes a followed generation (<c>GenerationStreamReader.FollowAsync</c>) to an HTTP response as SSE.</summary>
public static class SseStreaming
{
    /// <summary>Chat's own SSE: one event per frame (<c>id:</c> seq, <c>event:</c> type, <c>data:</c> frame JSON),
    /// ending after the terminal frame. Returns the terminal frame, or null if the feed ended without one.</summary>
    public static async Task<GenerationFrame?> WriteFramesAsync(HttpResponse response, IAsyncEnumerable<GenerationFrame> frames, CancellationToken cancellationToken)
    {
        await SseFormatter.StartAsync(response, cancellationToken);
        await foreach (var frame in frames.WithCancellation(cancellationToken))
        {
            await SseFormatter.WriteAsync(response, SseFormatter.Frame(frame), cancellationToken);
            if (frame.IsTerminal)
            {
                return frame;
            }
        }

        return null;
    }

    /// <summary>
    /// The OpenAI-compatible stream: <c>chat.completion.chunk</c> events (role, deltas, finish_reason, and a usage chunk
    /// when <paramref name="includeUsage"/>), an OpenAI error object if the generation failed or was cancelled, then
    /// <c>data: [DONE]</c>.
    /// </summary>
    public static async Task WriteChatCompletionChunksAsync(
        HttpResponse response, IAsyncEnumerable<GenerationFrame> frames, string model, long created, bool includeUsage, CancellationToken cancellationToken)
    {
        await SseFormatter.StartAsync(response, cancellationToken);
        await foreach (var frame in frames.WithCancellation(cancellationToken))
        {
            if (frame.Type is FrameTypes.Failed or FrameTypes.Cancelled)
            {
                var (_, body) = OpenAiMapper.ToError(frame.Code ?? "cancelled", frame.Message ?? "The generation was cancelled.");
                await SseFormatter.WriteAsync(response, SseFormatter.Error(body), cancellationToken);
                break;
            }

            foreach (var chunk in OpenAiMapper.ToChunks(frame, model, created, includeUsage))
            {
                await SseFormatter.WriteAsync(response, SseFormatter.Chunk(chunk), cancellationToken);
            }

            if (frame.IsTerminal)
            {
                break;
            }
        }

        await SseFormatter.WriteAsync(response, SseFormatter.Done, cancellationToken);
    }
}
