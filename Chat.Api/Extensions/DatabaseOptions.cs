using System.ComponentModel.DataAnnotations;

namespace Chat.Api.Extensions;

/// <summary>
/// How chat-api behaves while PostgreSQL is unavailable (section <c>Database</c>; docs/API.md, "When PostgreSQL is
/// unavailable").
/// </summary>
public sealed class DatabaseOptions
{
    public const string SectionName = "Database";

    /// <summary>
    /// The bound on a request's database work: past it the request is answered 503 <c>database_unavailable</c>. Within
    /// it, failed attempts are retried (<see cref="MaxRetryDelay"/>) and a frozen server is waited for. Requests that
    /// then wait for a model (a synchronous or streamed reply) are bounded by the model's own limits instead.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>What <c>Retry-After</c> tells a client refused with <c>database_unavailable</c>.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The longest pause between two attempts of EF Core's retrying execution strategy. Its default pauses grow
    /// 0, 1, 3, 7 s … up to 30 s, so a request's 10 s would try at 0, 0, 1 and 4 s only; capped, it tries at least every 2 s.
    /// </summary>
    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Attempts after the first. Requests are cut by <see cref="RequestTimeout"/> long before; this keeps work that no
    /// request bounds (a generation's final write, the retention purge) retrying for about a minute, as EF Core's default does.
    /// </summary>
    public const int MaxRetryCount = 30;
}
