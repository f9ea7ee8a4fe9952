using System.Diagnostics;
using Chat.Streaming.Protocol;
using StackExchange.Redis;

namespace Chat.Streaming.Services.Frames;

/// <summary>
/// <c>subscribe</c>: authorizes the conversation (once per connection), subscribes to it, and with a
/// <c>generationId</c> replays that generation's frames after <c>after</c> from its stream before the live ones. Live
/// frames are held back while the replay runs, so the two never interleave and no frame is sent twice.
/// </summary>
public static class SubscribeHandler
{
    private static readonly TimeSpan ReplayBackPressurePoll = TimeSpan.FromMilliseconds(5);

    public static async Task HandleAsync(ChatConnection connection, ClientFrame frame)
    {
        using var activity = connection.StartFrameActivity("subscribe", ActivityKind.Internal);
        activity?.SetTag("chat.conversation_id", frame.ConversationId);
        activity?.SetTag("chat.generation_id", frame.GenerationId);
        activity?.SetTag("chat.after", frame.After);

        var subscription = await PauseOrOpenAsync(connection, frame);
        if (subscription is null)
        {
            return;
        }
        // Live frames are now buffering (the channel subscription is confirmed), so the replay can't miss any.
        var replay = await ReadReplayAsync(connection, subscription, frame);
        var recovered = replay is not null;
        connection.TryEnqueue(ServerFrames.Encode(new SubscribedFrame(
            frame.Id, frame.ConversationId, frame.GenerationId, recovered, replay?.Count ?? 0, InstanceInfo.Id)));
        var replayed = await SendReplayAsync(connection, subscription, replay ?? []);
        connection.Services.Telemetry.FramesReplayed.Add(replayed);
        activity?.SetTag("chat.recovered", recovered);
        activity?.SetTag("chat.replayed", replayed);
        subscription.Resume();
    }

    /// <summary>The conversation's subscription, paused: the existing one, or a new one once authorized; null (error sent) if refused.</summary>
    private static async Task<Subscription?> PauseOrOpenAsync(ChatConnection connection, ClientFrame frame)
    {
        var conversationId = frame.ConversationId;
        if (connection.TryGetSubscription(conversationId, out var subscription))
        {
            subscription.Pause();
            return subscription;
        }
        if (!connection.HasRoomForSubscription(frame, conversationId))
        {
            return null;
        }
        var allowed = await connection.Services.Authorizer.AuthorizeAsync(connection.User, connection.Token, conversationId, connection.Stopping);
        if (!allowed.Succeeded)
        {
            connection.SendError(frame.Id, allowed.ErrorCode!, allowed.ErrorMessage!, conversationId);
            return null;
        }
        return await connection.OpenPausedAsync(frame, conversationId);
    }

    /// <summary>The frames to replay (none without a <c>generationId</c>); null when the generation's stream cannot be read.</summary>
    private static async Task<IReadOnlyList<LiveFrame>?> ReadReplayAsync(ChatConnection connection, Subscription subscription, ClientFrame frame)
    {
        if (frame.GenerationId is not { } generationId)
        {
            return [];
        }
        var after = frame.After ?? -1;
        IReadOnlyList<LiveFrame>? replay;
        try
        {
            replay = await connection.Services.Hub.ReadReplayAsync(frame.ConversationId, generationId, after);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            StreamingLog.ReplayFailed(connection.Services.Logger, ex, generationId);
            return null;
        }
        if (replay is not null)
        {
            subscription.Rewind(generationId, after);
            connection.NoteGeneration(generationId, frame.ConversationId);
        }
        return replay;
    }

    /// <summary>Queues the replayed frames the subscription has not passed on yet; returns how many were queued.</summary>
    private static async Task<int> SendReplayAsync(ChatConnection connection, Subscription subscription, IReadOnlyList<LiveFrame> replay)
    {
        var sender = connection.Sender;
        var replayed = 0;
        foreach (var frame in replay)
        {
            if (!subscription.AcceptReplayed(frame))
            {
                continue;
            }
            // Replays can be long: wait for the writer rather than overflow the queue (live frames are buffering).
            while (sender.Queued >= sender.Capacity / 2 && !sender.IsClosing)
            {
                await Task.Delay(ReplayBackPressurePoll, connection.Services.Time, connection.Stopping);
            }
            if (!connection.TryEnqueue(frame.Utf8))
            {
                break;
            }
            replayed++;
        }
        return replayed;
    }
}
