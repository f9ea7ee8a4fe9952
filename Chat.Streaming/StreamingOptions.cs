using System.ComponentModel.DataAnnotations;

namespace Chat.Streaming;

/// <summary>Limits and timings of the WebSocket tier (section <c>Streaming</c>); documented in docs/PROTOCOL.md.</summary>
public sealed class StreamingOptions
{
    public const string SectionName = "Streaming";

    /// <summary>Base address of Chat.Api; a logical name resolved by service discovery (the app host's reference).</summary>
    [Required]
    public Uri ChatApiAddress { get; set; } = new("http://chat-api");

    /// <summary>Frames a socket may have queued for sending; when full the client is too slow and is closed with 4008.</summary>
    [Range(16, 1_000_000)]
    public int SendQueueCapacity { get; set; } = 1024;

    /// <summary>Live frames held for one subscription while its replay runs (or while a message.send is in flight).</summary>
    [Range(16, 1_000_000)]
    public int ResumeBufferCapacity { get; set; } = 4096;

    /// <summary>Interval of WebSocket PING control frames and of the protocol-level <c>heartbeat</c> frame.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a PONG may be late before the connection is declared dead and aborted.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Largest client frame accepted; a larger one closes the socket with 1009.</summary>
    [Range(1024, 4 * 1024 * 1024)]
    public int MaxFrameBytes { get; set; } = 64 * 1024;

    /// <summary>Sustained client frames per second per connection (token bucket refill rate).</summary>
    [Range(1, 10_000)]
    public int RateLimitPerSecond { get; set; } = 20;

    /// <summary>Token bucket size: frames a client may send in a burst.</summary>
    [Range(1, 100_000)]
    public int RateLimitBurst { get; set; } = 40;

    /// <summary>Consecutive rejected frames after which the flood is abuse and the socket closes with 1008.</summary>
    [Range(1, 100_000)]
    public int MaxRateViolations { get; set; } = 50;

    /// <summary>Conversations one connection may subscribe to at once.</summary>
    [Range(1, 10_000)]
    public int MaxSubscriptionsPerConnection { get; set; } = 100;

    /// <summary>How long a positive "this user may read this conversation" answer from Chat.Api is cached.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan AuthorizationCacheDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Time a closing handshake may take before the socket is aborted.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// After Redis comes back, how long a generation stream that is missing (Redis restarted empty) is retried before the
    /// sockets are told to reload that generation (<c>stream.restored</c> with <c>recovered:false</c>).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan RedisRestoreGrace { get; set; } = TimeSpan.FromSeconds(15);
}
