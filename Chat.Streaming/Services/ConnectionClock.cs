namespace Chat.Streaming.Services;

/// <summary>What a <see cref="ConnectionClock"/> acts on.</summary>
public interface IClockTarget
{
    /// <summary>True once the connection is closing: the clock then does nothing more.</summary>
    bool IsClosing { get; }

    /// <summary>A protocol heartbeat is due.</summary>
    void OnHeartbeat(DateTimeOffset now);

    /// <summary>The access token has expired.</summary>
    void OnTokenExpired();

    /// <summary>A tick failed; a timer callback has no caller to throw to.</summary>
    void OnClockFailed(Exception exception);
}

/// <summary>
/// A connection's protocol heartbeats (WebSocket PINGs are sent by the socket itself) and its token's expiry, on one
/// timer per connection rather than an async loop, which would hold a state machine, a delay and a cancellation
/// registration for the socket's life. Each is due at a deadline and acted on only once that deadline has passed, so a
/// timer that fires early (the timer and the wall clock are different clocks, and sub-millisecond delays round to zero)
/// never sends a heartbeat early or spins. The timer is one-shot and re-armed at the end of each tick, so ticks never overlap.
/// </summary>
public sealed class ConnectionClock(IClockTarget target, TimeProvider time, TimeSpan heartbeatInterval, DateTimeOffset? expiresAt) : IDisposable
{
    private ITimer? _timer;
    private DateTimeOffset _nextHeartbeat; // touched by the ticks only, after Start sets it

    /// <summary>Arms the first tick: a heartbeat one interval from now, or the expiry if sooner.</summary>
    public void Start()
    {
        var now = time.GetUtcNow();
        _nextHeartbeat = now + heartbeatInterval;
        _timer = time.CreateTimer(static clock => ((ConnectionClock)clock!).OnTick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        Arm(now);
    }

    /// <summary>Stops the ticks; a tick already running finds the target closing and does nothing.</summary>
    public void Dispose() => _timer?.Dispose();

    private void OnTick()
    {
        if (target.IsClosing)
        {
            return;
        }
        try
        {
            var now = time.GetUtcNow();
            if (expiresAt is { } expires && now >= expires)
            {
                target.OnTokenExpired();
                return;
            }
            if (now >= _nextHeartbeat)
            {
                target.OnHeartbeat(now);
                _nextHeartbeat = now + heartbeatInterval;
            }
            Arm(now);
        }
        catch (Exception ex)
        {
            target.OnClockFailed(ex);
        }
    }

    private void Arm(DateTimeOffset now)
    {
        var due = expiresAt is { } expiry && expiry < _nextHeartbeat ? expiry : _nextHeartbeat;
        try
        {
            _timer?.Change(TimerDelay(due - now), Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // The connection ended while this tick ran.
        }
    }

    /// <summary>Rounds a wait up to whole milliseconds (at least one), the timer's resolution.</summary>
    internal static TimeSpan TimerDelay(TimeSpan left) =>
        TimeSpan.FromMilliseconds(Math.Max(1, Math.Ceiling(left.TotalMilliseconds)));
}
