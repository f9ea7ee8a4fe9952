using Microsoft.AspNetCore.SignalR;

namespace Chat.Bench.Baselines.SignalRPeer;

/// <summary>Names shared by the peer server, its clients and the backplane publisher in Chat.Bench.</summary>
public static class PeerProtocol
{
    public const string HubPath = "/hub";

    /// <summary>Hub method a client calls with a conversation id to join that conversation's group.</summary>
    public const string SubscribeMethod = nameof(FrameHub.Subscribe);

    /// <summary>Client method every generation frame arrives on, with the frame's JSON text as its one argument.</summary>
    public const string FrameMethod = "frame";

    public static string Group(Guid conversationId) => conversationId.ToString("N");
}

/// <summary>The hub. Its full type name is part of the backplane's Redis channel names, so the publisher uses this type.</summary>
public sealed class FrameHub : Hub
{
    public Task Subscribe(Guid conversationId) =>
        Groups.AddToGroupAsync(Context.ConnectionId, PeerProtocol.Group(conversationId), Context.ConnectionAborted);
}
