using System.Net.WebSockets;
using System.Text;

namespace Chat.Streaming;

/// <summary>The <c>/ws</c> endpoint. This skeleton greets and closes; the chat.v1 protocol comes with its issue.</summary>
internal static class WebSocketEndpoint
{
    public static async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await TypedResults.Problem(
                title: "WebSocket upgrade required",
                detail: "Connect to /ws with a WebSocket client.",
                statusCode: StatusCodes.Status426UpgradeRequired,
                extensions: new Dictionary<string, object?> { ["code"] = "websocket_required" }).ExecuteAsync(context);
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var hello = Encoding.UTF8.GetBytes($$"""{"type":"hello","service":"chat-streaming","instance":"{{Environment.MachineName}}:{{Environment.ProcessId}}"}""");
        await socket.SendAsync(hello, WebSocketMessageType.Text, endOfMessage: true, context.RequestAborted);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", context.RequestAborted);
    }
}
