using Chat.Bench.Cli;
using Chat.Bench.Http;
using Chat.Bench.WebSockets;

namespace Chat.Bench.Tests;

/// <summary>
/// Short real runs: the bench starts redis-server (and PostgreSQL) and a baseline server, drives it, and stops
/// everything it started. Seconds long, a handful of sockets: they prove the tool measures, not how fast anything is.
/// </summary>
public sealed class BaselineRunTests : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("chat-bench-test-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    [Theory]
    [InlineData("raw", "chat", "raw")]
    [InlineData("raw", "publish", "raw-publish")]
    [InlineData("signalr", "chat", "signalr")]
    public async Task FanOutRunAgainstBaselineDeliversEveryFrameExactlyOnce(string target, string redisWrites, string named)
    {
        var options = WsOptions.From(CommandLine.Parse(
            ["ws", "--target", target, "--redis-writes", redisWrites, "--sockets", "6", "--per-conversation", "2", "--rate", "5", "--tokens-per-second", "100",
             "--chunks", "10", "--duration", "2s", "--warmup", "500ms", "--settle", "200ms", "--out", _out]), stepMode: false);

        var result = await new WsScenario(options).RunAsync(CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Equal(named, options.TargetName);
        Assert.Equal(6, result.Connected);
        var step = Assert.Single(result.Steps);
        Assert.True(step.ExpectedDeliveries > 0);
        Assert.Equal(step.ExpectedDeliveries, step.UniqueDeliveries);
        Assert.Equal(0, step.Lost);
        Assert.Equal(0, step.Duplicates);
        Assert.Equal(0, step.Unexpected);
        Assert.True(step.Latency.Count > 0);
        Assert.Contains(step.Processes, p => p.Label == "redis");
    }

    [Fact]
    public void PublishOnlyWritesAreRefusedForChatAndTheSignalRPeer()
    {
        foreach (var target in new[] { "chat", "signalr" })
        {
            var error = Assert.Throws<UsageException>(() => WsOptions.From(CommandLine.Parse(
                ["ws", "--target", target, "--redis-writes", "publish", "--signing-key", "k", "--out", _out]), stepMode: false));
            Assert.Contains("--redis-writes publish", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task RestRunAgainstBareBaselineAnswersEveryRequest()
    {
        var options = RestOptions.From(CommandLine.Parse(
            ["rest", "--target", "baseline", "--concurrency", "2", "--duration", "1s", "--warmup", "200ms", "--rows", "100", "--out", _out]));

        var result = await new RestScenario(options).RunAsync(CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(2));

        // Both floors by default: the primary-key read and the history page's SQL and JSON without Chat.
        Assert.Equal(["pk-select", "page-select"], result.Operations.Select(o => o.Operation));
        Assert.All(result.Operations, op =>
        {
            Assert.True(op.Succeeded > 0);
            Assert.Equal(0, op.Failed);
            Assert.Equal(op.Succeeded, op.StatusCodes["200"]);
        });
    }
}
