using System.Diagnostics;
using Chat.ServiceDefaults.Authentication;
using Chat.Streaming.Protocol;
using StackExchange.Redis;

namespace Chat.Streaming.Services.Frames;

/// <summary>
/// <c>generation.cancel</c>: asks whichever process runs the generation to stop it, through the cancel bus. Only a
/// generation this connection has seen, in a conversation it is subscribed to (so was authorized for).
/// </summary>
public static class CancelHandler
{
    public static async Task HandleAsync(ChatConnection connection, ClientFrame frame)
    {
        var generationId = frame.GenerationId!.Value;
        if (!connection.User.HasScope(ChatScopes.Write))
        {
            connection.SendError(frame.Id, ErrorCodes.Forbidden, "Cancelling needs the chat.write scope.", generationId: generationId);
            return;
        }
        if (!connection.TryGetSubscribedGeneration(generationId, out var conversationId))
        {
            connection.SendError(frame.Id, ErrorCodes.GenerationNotFound, "No such generation in a subscribed conversation.", generationId: generationId);
            return;
        }
        using var activity = connection.StartFrameActivity("generation.cancel", ActivityKind.Producer);
        activity?.SetTag("chat.generation_id", generationId);
        try
        {
            await connection.Services.CancelBus.PublishAsync(generationId);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            connection.SendError(frame.Id, ErrorCodes.Internal, "The message bus is unavailable; try again.", generationId: generationId);
            return;
        }
        connection.TryEnqueue(ServerFrames.Encode(new AckFrame(frame.Id, conversationId, null, generationId, null)));
    }
}
