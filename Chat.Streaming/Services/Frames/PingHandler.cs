using Chat.Streaming.Protocol;

namespace Chat.Streaming.Services.Frames;

/// <summary><c>ping</c>: answered with a <c>pong</c> carrying the same id.</summary>
public static class PingHandler
{
    public static Task HandleAsync(ChatConnection connection, ClientFrame frame)
    {
        connection.TryEnqueue(ServerFrames.Encode(new PongFrame(frame.Id)));
        return Task.CompletedTask;
    }
}
