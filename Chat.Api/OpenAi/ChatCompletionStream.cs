using System.Net.ServerSentEvents;
using System.Text.Json;
using Chat.Messaging.Contracts;

namespace Chat.Api.OpenAi;

/// <summary>
/// The OpenAI-compatible stream as server-sent events: <c>data: {chat.completion.chunk}</c> events (role, deltas,
/// finish_reason, and a usage chunk when asked for), an OpenAI error object if the generation failed or was cancelled,
/// then <c>data: [DONE]</c>. No <c>event:</c> or <c>id:</c> lines, as OpenAI sends none.
/// </summary>
public static class ChatCompletionStream
{
    public const string Done = "[DONE]";

    public static async IAsyncEnumerable<SseItem<string>> Events(IAsyncEnumerable<GenerationFrame> frames, string model, long created, bool includeUsage)
    {
        await foreach (var frame in frames)
        {
            if (frame.Type is FrameTypes.Failed or FrameTypes.Cancelled)
            {
                var (_, body) = OpenAiMapper.ToError(frame.Code ?? OpenAiMapper.Cancelled, frame.Message ?? "The generation was cancelled.");
                yield return new SseItem<string>(OpenAiMapper.Serialize(body));
                break;
            }

            foreach (var chunk in OpenAiMapper.ToChunks(frame, model, created, includeUsage))
            {
                yield return new SseItem<string>(JsonSerializer.Serialize(chunk, OpenAiJsonContext.Default.ChatCompletionChunk));
            }

            if (frame.IsTerminal)
            {
                break;
            }
        }

        yield return new SseItem<string>(Done);
    }
}
