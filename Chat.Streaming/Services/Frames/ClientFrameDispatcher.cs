using System.Net.WebSockets;
using Chat.Streaming.Protocol;

namespace Chat.Streaming.Services.Frames;

/// <summary>
/// Takes one whole client frame through the connection's rate limit, checks and parses it, and hands it to the handler
/// of its type. Stateless: the connection carries everything a handler needs.
/// </summary>
public static class ClientFrameDispatcher
{
    public static Task DispatchAsync(ChatConnection connection, WebSocketMessageType type, ReadOnlyMemory<byte> utf8)
    {
        connection.Services.Telemetry.FramesReceived.Add(1);
        if (!connection.RateLimit.TryTake())
        {
            OnRateLimited(connection);
            return Task.CompletedTask;
        }
        if (type == WebSocketMessageType.Binary)
        {
            connection.SendError(null, ErrorCodes.BinaryNotSupported, "chat.v1 frames are JSON text.");
            return Task.CompletedTask;
        }
        if (!ClientFrameParser.TryParse(utf8, out var frame, out var error))
        {
            connection.SendError(error.Id, error.Code, error.Message);
            return Task.CompletedTask;
        }
        return frame.Type switch
        {
            ClientFrameTypes.Ping => PingHandler.HandleAsync(connection, frame),
            ClientFrameTypes.Subscribe => SubscribeHandler.HandleAsync(connection, frame),
            ClientFrameTypes.Unsubscribe => UnsubscribeHandler.HandleAsync(connection, frame),
            ClientFrameTypes.MessageSend => SendMessageHandler.HandleAsync(connection, frame),
            ClientFrameTypes.GenerationCancel => CancelHandler.HandleAsync(connection, frame),
            _ => UnknownType(connection, frame),
        };
    }

    /// <summary>The frame is dropped: the first of a streak is told why, and a long streak closes the connection.</summary>
    private static void OnRateLimited(ChatConnection connection)
    {
        var options = connection.Services.Options;
        var violations = connection.RateLimit.Violations;
        if (violations == 1)
        {
            connection.SendError(null, ErrorCodes.RateLimited,
                $"Too many frames: at most {options.RateLimitPerSecond}/s (burst {options.RateLimitBurst}); frames over the limit are dropped.");
        }
        if (violations >= options.MaxRateViolations)
        {
            StreamingLog.Flood(connection.Services.Logger, connection.Id, violations);
            connection.SendError(null, ErrorCodes.RateLimited, "Flood: closing the connection.");
            connection.RequestClose(CloseCodes.PolicyViolation, "rate limit", drain: true);
        }
    }

    private static Task UnknownType(ChatConnection connection, ClientFrame frame)
    {
        connection.SendError(frame.Id, ErrorCodes.UnknownType, "Unknown frame type.");
        return Task.CompletedTask;
    }
}
