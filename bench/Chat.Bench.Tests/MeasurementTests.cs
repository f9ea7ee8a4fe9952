using System.Text;
using Chat.Bench.Cli;
using Chat.Bench.Measurement;
using Chat.Bench.WebSockets;

namespace Chat.Bench.Tests;

public class MeasurementTests
{
    [Fact]
    public void PercentilesOfUniformValuesAreWithinOnePercent()
    {
        var histogram = new LatencyHistogram();
        for (var us = 1; us <= 100_000; us++)
        {
            histogram.RecordMicroseconds(us);
        }

        var summary = histogram.Summarize();

        Assert.Equal(100_000, summary.Count);
        Assert.InRange(summary.P50Ms, 50 * 0.99, 50 * 1.01);
        Assert.InRange(summary.P99Ms, 99 * 0.99, 99 * 1.01);
        Assert.InRange(summary.P999Ms, 99.9 * 0.99, 99.9 * 1.01);
        Assert.Equal(100, summary.MaxMs);
    }

    [Fact]
    public void EveryValueFallsInABucketThatHoldsIt()
    {
        var previous = -1;
        for (long value = 0; value < 5_000_000; value += 1 + (value / 50))
        {
            var index = LatencyHistogram.IndexOf(value);
            Assert.True(index >= previous, $"index of {value} went backwards");
            Assert.True(LatencyHistogram.UpperEdgeOf(index) >= value, $"bucket of {value} ends before it");
            Assert.True(index == 0 || LatencyHistogram.UpperEdgeOf(index - 1) < value, $"{value} belongs to an earlier bucket");
            previous = index;
        }
    }

    [Fact]
    public void TrackerCountsEachGenerationSeqOnceAndFlagsDuplicatesAndStrangers()
    {
        var context = new TrackingContext(framesPerGeneration: 4) { MeasureFromTimestamp = 0 };
        var tracker = new FrameTracker(context);
        var generation = Guid.NewGuid();
        string Frame(string type, long seq, string? delta = null) =>
            "{\"type\":\"" + type + "\",\"conversationId\":\"" + Guid.NewGuid() + "\",\"generationId\":\"" + generation +
            "\",\"seq\":" + seq + (delta is null ? "" : ",\"delta\":\"" + delta + "\"") + ",\"usage\":{\"totalTokens\":3}}";

        tracker.OnFrame(Encoding.UTF8.GetBytes("""{"type":"subscribed","id":"s1"}"""));
        tracker.OnFrame(Encoding.UTF8.GetBytes(Frame("generation.started", 0)));
        tracker.OnFrame(Encoding.UTF8.GetBytes(Frame("chunk", 1, System.Diagnostics.Stopwatch.GetTimestamp().ToString("X16", System.Globalization.CultureInfo.InvariantCulture) + "xx")));
        tracker.OnFrame(Encoding.UTF8.GetBytes(Frame("chunk", 1, "0000000000000001xx")));
        tracker.OnFrame(Encoding.UTF8.GetBytes(Frame("generation.completed", 3)));
        tracker.OnFrame(Encoding.UTF8.GetBytes(Frame("chunk", 9, "0000000000000001xx")));
        tracker.OnFrame(Encoding.UTF8.GetBytes("""{"type":"heartbeat","ts":1}"""));

        Assert.True(tracker.Subscribed.Task.IsCompletedSuccessfully);
        Assert.Equal(3, tracker.Unique);       // seq 0, 1, 3 (seq 2 is missing: the scenario counts it as lost)
        Assert.Equal(1, tracker.Duplicates);   // seq 1 again
        Assert.Equal(1, tracker.Unexpected);   // seq 9 is outside a 4-frame generation
        Assert.Equal(1, tracker.Chunks);
        Assert.Equal(1, context.Latency.Count);
    }

    [Fact]
    public void ErrorFrameFailsThePendingSubscription()
    {
        var tracker = new FrameTracker(new TrackingContext(4));

        tracker.OnFrame("""{"type":"error","code":"conversation_not_found","message":"no"}"""u8);

        Assert.True(tracker.Subscribed.Task.IsFaulted);
        Assert.Equal(1, tracker.Errors);
    }

    [Fact]
    public void CommandLineRejectsAnUnknownOption()
    {
        var cl = CommandLine.Parse(["ws", "--target", "raw", "--sokets", "10"]);
        _ = WsOptions.From(cl, stepMode: false);

        var ex = Assert.Throws<UsageException>(cl.ThrowOnUnused);
        Assert.Contains("--sokets", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("30s", 30_000)]
    [InlineData("2m", 120_000)]
    [InlineData("1.5", 1_500)]
    public void DurationsParseWithTheirUnit(string text, double milliseconds) =>
        Assert.Equal(milliseconds, CommandLine.ParseDuration(text).TotalMilliseconds);

    [Fact]
    public void StepModeBuildsAGeometricLadderOfRates()
    {
        var options = WsOptions.From(CommandLine.Parse(["ws-step", "--start-rate", "10", "--step-factor", "2", "--max-steps", "4"]), stepMode: true);

        Assert.Equal([10, 20, 40, 80], options.Rates);
    }
}
