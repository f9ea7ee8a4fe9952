using Chat.Streaming.Services;
using Microsoft.Extensions.Time.Testing;

namespace Chat.Streaming.Tests;

/// <summary>The clock on a <see cref="FakeTimeProvider"/>: heartbeats one interval apart, never early, and the token's expiry.</summary>
public sealed class ConnectionClockTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public void AHeartbeatIsDueOneIntervalAfterStartAndEveryIntervalAfterThat()
    {
        var target = new RecordingTarget();
        var start = _time.GetUtcNow();
        using var clock = new ConnectionClock(target, _time, Interval, expiresAt: null);
        clock.Start();

        _time.Advance(Interval - TimeSpan.FromMilliseconds(1));
        Assert.Empty(target.Heartbeats);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        _time.Advance(Interval);

        Assert.Equal([start + Interval, start + (2 * Interval)], target.Heartbeats);
    }

    [Fact]
    public void ATokenThatExpiresBeforeTheNextHeartbeatEndsTheConnectionAtItsExpiry()
    {
        var target = new RecordingTarget();
        var expiry = _time.GetUtcNow() + TimeSpan.FromSeconds(20);
        using var clock = new ConnectionClock(target, _time, Interval, expiry);
        clock.Start();

        _time.Advance(TimeSpan.FromSeconds(19));
        Assert.Equal(0, target.Expiries); // the heartbeat at 15 s came first
        Assert.Single(target.Heartbeats);

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, target.Expiries);

        _time.Advance(10 * Interval);
        Assert.Single(target.Heartbeats); // expired: the clock is not re-armed
    }

    [Fact]
    public void AClosingConnectionGetsNoMoreHeartbeats()
    {
        var target = new RecordingTarget();
        using var clock = new ConnectionClock(target, _time, Interval, expiresAt: null);
        clock.Start();
        _time.Advance(Interval);
        Assert.Single(target.Heartbeats);

        target.IsClosing = true;
        _time.Advance(10 * Interval);

        Assert.Single(target.Heartbeats);
    }

    [Theory]
    [InlineData(0.0, 1)]
    [InlineData(0.2, 1)]
    [InlineData(1.0, 1)]
    [InlineData(1.2, 2)]
    [InlineData(-5.0, 1)]
    public void TimerDelaysRoundUpToWholeMillisecondsOfAtLeastOne(double leftMs, double expectedMs) =>
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), ConnectionClock.TimerDelay(TimeSpan.FromMilliseconds(leftMs)));

    private sealed class RecordingTarget : IClockTarget
    {
        public List<DateTimeOffset> Heartbeats { get; } = [];

        public int Expiries { get; private set; }

        public bool IsClosing { get; set; }

        public void OnHeartbeat(DateTimeOffset now) => Heartbeats.Add(now);

        public void OnTokenExpired()
        {
            Expiries++;
            IsClosing = true;
        }

        public void OnClockFailed(Exception exception) => throw exception;
    }
}
