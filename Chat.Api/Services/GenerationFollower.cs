using Chat.Llm.Options;
using Chat.Messaging;
using Chat.Messaging.Contracts;
using Microsoft.Extensions.Options;

namespace Chat.Api.Services;

/// <summary>A generation's frames for an SSE response, from this process when it runs it for the request, else from Redis.</summary>
public sealed class GenerationFollower(GenerationStreamReader reader, IOptions<LlmOptions> llm)
{
    /// <summary>
    /// The frames after <paramref name="after"/>, up to the terminal frame: from <paramref name="live"/> (which starts at
    /// seq 0) when given, else from Redis. A client that leaves ends only its own stream: the generation goes on and can
    /// be followed again with Last-Event-ID.
    /// </summary>
    public IAsyncEnumerable<GenerationFrame> Frames(Guid conversationId, Guid generationId, long after, GenerationFeed.Follower? live, CancellationToken cancellationToken) =>
        live is null
            ? reader.FollowAsync(conversationId, generationId, after, IdleLimit, cancellationToken)
            : reader.FollowAsync(live, IdleLimit, cancellationToken);

    /// <summary>How long a follower waits for the next frame before giving up: the model's idle limit plus slack.</summary>
    public TimeSpan IdleLimit => llm.Value.Timeouts.Idle + llm.Value.Timeouts.FirstToken;
}
