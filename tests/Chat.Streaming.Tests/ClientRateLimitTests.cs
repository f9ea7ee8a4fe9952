using System.Diagnostics;
using Chat.Streaming.Services;

namespace Chat.Streaming.Tests;

/// <summary>
/// The per-connection limit over the platform's token bucket, which reads the real clock (Stopwatch): bounds allow for
/// the time a loaded machine takes between calls.
/// </summary>
public sealed class ClientRateLimitTests
{
    [Fact]
    public void ABurstIsAllowedThenFramesAreRefusedAndCountedInARow()
    {
        const int Burst = 5;
        const int PerSecond = 1;
        var clock = Stopwatch.StartNew();
        using var limit = new ClientRateLimit(ClientRateLimit.BucketOptions(new StreamingOptions { RateLimitBurst = Burst, RateLimitPerSecond = PerSecond }));

        var taken = 0;
        while (limit.TryTake())
        {
            taken++;
            Assert.True(taken <= Burst + 1 + (clock.Elapsed.TotalSeconds * PerSecond), "the bucket never ran out");
        }
        Assert.InRange(taken, Burst, Burst + 1 + (int)(clock.Elapsed.TotalSeconds * PerSecond));
        Assert.Equal(1, limit.Violations);

        Assert.False(limit.TryTake()); // a token takes a second to come back
        Assert.Equal(2, limit.Violations);
    }

    [Fact]
    public async Task AnEmptyBucketRefillsAtTheConfiguredRateAndAFrameTakenResetsTheStreak()
    {
        const int PerSecond = 20;
        using var limit = new ClientRateLimit(ClientRateLimit.BucketOptions(new StreamingOptions { RateLimitBurst = 2, RateLimitPerSecond = PerSecond }));
        while (limit.TryTake())
        {
        }
        var emptied = Stopwatch.StartNew();
        Assert.Equal(1, limit.Violations);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!limit.TryTake())
        {
            Assert.True(DateTime.UtcNow < deadline, "the bucket never refilled");
            await Task.Delay(5);
        }

        Assert.True(emptied.Elapsed >= TimeSpan.FromSeconds(1.0 / PerSecond) * 0.9, $"a token came back after {emptied.Elapsed}");
        Assert.Equal(0, limit.Violations);
    }

    [Fact]
    public void TheBucketIsNotReplenishedByATimer()
    {
        var options = ClientRateLimit.BucketOptions(new StreamingOptions());
        Assert.False(options.AutoReplenishment);
        Assert.Equal(0, options.QueueLimit);
    }
}
