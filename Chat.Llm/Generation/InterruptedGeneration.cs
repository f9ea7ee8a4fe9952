using System.Text;
using Chat.Messaging.Contracts;

namespace Chat.Llm.Generation;

/// <summary>
/// How a swept generation ends, decided from what survived it: its Redis stream (every frame it published) and the
/// checkpoint in its row. A stream that already ends in a terminal frame (the runner finished but could not store) is
/// stored as that frame says. Otherwise the generation is <c>interrupted</c>: the text is the stream's chunks, or the
/// checkpoint when that holds more; what the checkpoint adds is published as one more chunk, then the terminal frame
/// (<c>generation.failed</c>, code <c>interrupted</c>) at the next seq, so every subscriber ends with no gap.
/// </summary>
public static class InterruptedGeneration
{
    public const string Message = "The generation was interrupted: the server running it stopped. The text produced until then is kept.";

    /// <summary>The outcome to store and the frames to publish after it (none when the stream already ended).</summary>
    public static (GenerationOutcome Outcome, IReadOnlyList<GenerationFrame> Frames) Plan(ExpiredGeneration row, IReadOnlyList<GenerationFrame> stream)
    {
        var contiguous = stream.Count > 0 && stream[0].Seq == 0 && stream[^1].Seq == stream.Count - 1;
        var streamText = contiguous ? Concat(stream) : null;
        var model = row.Model ?? "";
        var provider = row.Provider ?? "";

        if (stream.Count > 0 && stream[^1].IsTerminal)
        {
            var end = stream[^1];
            return (Outcome(row, StatusOf(end.Type), streamText ?? row.Content, end.Seq - 1, end.Model ?? model, end.Provider ?? provider) with
            {
                FinishReason = end.FinishReason,
                Usage = end.Usage,
                ErrorCode = end.Code,
                ErrorMessage = end.Message,
            }, []);
        }

        var frames = new List<GenerationFrame>(3);
        var last = stream.Count > 0 ? stream[^1].Seq : -1;
        string text;
        if (last < 0)
        {
            frames.Add(Frame(row, FrameTypes.Started, 0) with { Model = model, Provider = provider });
            last = 0;
            text = row.Content;
            if (text.Length > 0)
            {
                frames.Add(Frame(row, FrameTypes.Chunk, ++last) with { Delta = text });
            }
        }
        else if (streamText is not null && row.Content.Length > streamText.Length && row.Content.StartsWith(streamText, StringComparison.Ordinal))
        {
            // The checkpoint is ahead of the stream (Redis lost frames): publish the difference as one chunk.
            frames.Add(Frame(row, FrameTypes.Chunk, ++last) with { Delta = row.Content[streamText.Length..] });
            text = row.Content;
        }
        else
        {
            // What subscribers saw is the record; the checkpoint only when the stream no longer starts at seq 0.
            text = streamText ?? row.Content;
        }

        var outcome = Outcome(row, GenerationStatus.Interrupted, text, last, model, provider) with
        {
            ErrorCode = LlmErrorCodes.Interrupted,
            ErrorMessage = Message,
        };
        frames.Add(Frame(row, FrameTypes.Failed, last + 1) with
        {
            Model = model, Provider = provider, Code = LlmErrorCodes.Interrupted, Message = Message,
        });
        return (outcome, frames);
    }

    private static string Concat(IReadOnlyList<GenerationFrame> stream)
    {
        var text = new StringBuilder();
        foreach (var frame in stream)
        {
            if (frame.Type == FrameTypes.Chunk)
            {
                text.Append(frame.Delta);
            }
        }

        return text.ToString();
    }

    private static GenerationStatus StatusOf(string terminalType) => terminalType switch
    {
        FrameTypes.Completed => GenerationStatus.Completed,
        FrameTypes.Cancelled => GenerationStatus.Cancelled,
        _ => GenerationStatus.Failed,
    };

    private static GenerationOutcome Outcome(ExpiredGeneration row, GenerationStatus status, string text, long chunks, string model, string provider) => new()
    {
        ConversationId = row.ConversationId,
        GenerationId = row.GenerationId,
        AssistantMessageId = row.AssistantMessageId,
        Status = status,
        Text = text,
        Model = model,
        Provider = provider,
        DurationMs = 0,
        ChunkCount = Math.Max(0, chunks),
        Attempts = [],
    };

    private static GenerationFrame Frame(ExpiredGeneration row, string type, long seq) => new()
    {
        Type = type,
        ConversationId = row.ConversationId,
        GenerationId = row.GenerationId,
        Seq = seq,
        MessageId = row.AssistantMessageId,
    };
}
