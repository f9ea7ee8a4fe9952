using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Chat.Streaming.Services;

/// <summary>The spans (fan-out, resume, send) and metrics of the streaming tier.</summary>
public sealed class StreamingTelemetry : IDisposable
{
    public const string Name = "Chat.Streaming";

    private readonly Meter _meter;

    public StreamingTelemetry(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(Name);
        Connections = _meter.CreateUpDownCounter<long>("chat.streaming.connections", description: "Open WebSocket connections.");
        RedisSubscriptions = _meter.CreateUpDownCounter<long>("chat.streaming.redis_subscriptions", description: "Conversation channels this replica subscribes to.");
        FramesFannedOut = _meter.CreateCounter<long>("chat.streaming.frames_fanned_out", description: "Generation frames read from Redis and handed to this replica's subscribers.");
        FramesSent = _meter.CreateCounter<long>("chat.streaming.frames_sent", description: "Frames written to sockets.");
        FramesReceived = _meter.CreateCounter<long>("chat.streaming.frames_received", description: "Frames read from sockets.");
        FramesReplayed = _meter.CreateCounter<long>("chat.streaming.frames_replayed", description: "Frames sent from a generation's replay stream.");
        SlowConsumerDrops = _meter.CreateCounter<long>("chat.streaming.slow_consumer_drops", description: "Connections closed because their send queue overflowed.");
        ClientErrors = _meter.CreateCounter<long>("chat.streaming.client_errors", description: "Error frames sent, by code.");
    }

    public static ActivitySource ActivitySource { get; } = new(Name);

    public UpDownCounter<long> Connections { get; }
    public UpDownCounter<long> RedisSubscriptions { get; }
    public Counter<long> FramesFannedOut { get; }
    public Counter<long> FramesSent { get; }
    public Counter<long> FramesReceived { get; }
    public Counter<long> FramesReplayed { get; }
    public Counter<long> SlowConsumerDrops { get; }
    public Counter<long> ClientErrors { get; }

    public void Dispose() => _meter.Dispose();
}
