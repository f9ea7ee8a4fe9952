using Chat.Streaming.Protocol;

namespace Chat.Streaming.Services.Frames;

/// <summary><c>unsubscribe</c>: ends the connection's subscription to a conversation.</summary>
public static class UnsubscribeHandler
{
    public static async Task HandleAsync(ChatConnection connection, ClientFrame frame)
    {
        if (!await connection.CloseSubscriptionAsync(frame.ConversationId))
        {
            connection.SendError(frame.Id, ErrorCodes.NotSubscribed, "Not subscribed to this conversation.", frame.ConversationId);
            return;
        }
        connection.TryEnqueue(ServerFrames.Encode(new UnsubscribedFrame(frame.Id, frame.ConversationId)));
    }
}
