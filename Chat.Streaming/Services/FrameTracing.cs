using System.Diagnostics;

namespace Chat.Streaming.Services;

/// <summary>The spans of client frames.</summary>
public static class FrameTracing
{
    /// <summary>
    /// Starts a client frame's span as the root of a trace of its own, linked to the connection's request span
    /// <paramref name="request"/>, as SignalR does for hub invocations. The request span lasts as long as the socket: as
    /// its children, every message a socket ever sent would share one trace, complete only when the socket closes, hours
    /// later. The calls to chat-api made under the span (and the generation they start) join its trace. Only the calling
    /// handler's flow sees the change of <see cref="Activity.Current"/>: handlers are async methods, whose context changes
    /// end with them.
    /// </summary>
    public static Activity? StartFrameActivity(string name, ActivityKind kind, ActivityContext request)
    {
        if (!StreamingTelemetry.ActivitySource.HasListeners())
        {
            return null;
        }
        var current = Activity.Current;
        Activity.Current = null;
        var activity = StreamingTelemetry.ActivitySource.StartActivity(name, kind, parentContext: default,
            links: request == default ? null : [new ActivityLink(request)]);
        if (activity is null)
        {
            Activity.Current = current;
        }
        return activity;
    }
}
