using System.Diagnostics;
using Chat.ServiceDefaults.Authentication;
using Chat.Streaming.Infrastructure;
using Chat.Streaming.Protocol;

namespace Chat.Streaming.Services.Frames;

/// <summary>
/// <c>message.send</c>: posts the message to chat-api, which starts the reply's generation. The connection subscribes
/// (paused) to the conversation first, so the generation's first frame cannot slip past the sender, and the
/// <c>ack</c> goes out before any of its frames.
/// </summary>
public static class SendMessageHandler
{
    public static async Task HandleAsync(ChatConnection connection, ClientFrame frame)
    {
        var conversationId = frame.ConversationId;
        if (!connection.User.HasScope(ChatScopes.Write))
        {
            connection.SendError(frame.Id, ErrorCodes.Forbidden, "Sending needs the chat.write scope.", conversationId);
            return;
        }
        using var activity = connection.StartFrameActivity("message.send", ActivityKind.Client);
        activity?.SetTag("chat.conversation_id", conversationId);

        var existed = connection.TryGetSubscription(conversationId, out var subscription);
        if (existed)
        {
            subscription!.Pause();
        }
        else if (!connection.HasRoomForSubscription(frame, conversationId)
            || (subscription = await connection.OpenPausedAsync(frame, conversationId)) is null)
        {
            return;
        }

        var result = await connection.Services.Api.SendMessageAsync(conversationId,
            new SendMessageRequest(frame.Content!, frame.ClientMessageId!, frame.Model, frame.Provider), connection.Token, connection.Stopping);
        if (!result.Succeeded)
        {
            await OnRefusedAsync(connection, frame, subscription, existed, result);
            return;
        }

        connection.Services.Authorizer.Remember(connection.User, conversationId);
        var sent = result.Value!;
        activity?.SetTag("chat.generation_id", sent.GenerationId);
        if (sent.GenerationId is { } generationId)
        {
            connection.NoteGeneration(generationId, conversationId);
        }
        subscription.Resume(first: () =>
        {
            if (!existed)
            {
                connection.TryEnqueue(ServerFrames.Encode(new SubscribedFrame(null, conversationId, null, true, 0, InstanceInfo.Id)));
            }
            connection.TryEnqueue(ServerFrames.Encode(new AckFrame(frame.Id, conversationId, sent.MessageId, sent.GenerationId, sent.AssistantMessageId)));
        });
    }

    private static async Task OnRefusedAsync(ChatConnection connection, ClientFrame frame, Subscription subscription, bool existed, ApiResult<SendResult> result)
    {
        if (existed)
        {
            subscription.Resume();
        }
        else
        {
            // Nothing buffered for a conversation the caller may not read ever leaves the replica.
            await connection.CloseSubscriptionAsync(frame.ConversationId);
        }
        connection.SendError(frame.Id, result.ErrorCode!, result.ErrorMessage!, frame.ConversationId);
    }
}
