using System.Diagnostics.Metrics;
using Chat.Llm.Generation;

namespace Chat.Llm.Diagnostics;

/// <summary>The metrics of running generations (Meter <see cref="MeterName"/>, the same name as the generation spans'
/// source, which <c>AddChatLlm()</c> already adds to tracing and metrics).</summary>
public sealed class GenerationMetrics
{
    public const string MeterName = GenerationRunner.ActivitySourceName;

    public GenerationMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        FramesBuffered = meter.CreateCounter<long>("chat.generation.frames_buffered", unit: "{frame}",
            description: "Generation frames that had to wait in memory for Redis (sent while it was unreachable, or whose write failed).");
    }

    public Counter<long> FramesBuffered { get; }
}
