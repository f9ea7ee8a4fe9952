using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Chat.Gateway;

/// <summary>Edge settings of the gateway (section <c>Gateway</c>).</summary>
public sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>Origins allowed to call Chat from a browser on another origin (exact, e.g. https://app.example.com).</summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>Largest request body accepted at the edge; larger ones get 413 before reaching a service.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    [Required]
    [ValidateObjectMembers]
    public RateLimitSettings RateLimit { get; set; } = new();
}

/// <summary>Data-annotation checks of <see cref="GatewayOptions"/>, generated at compile time (no reflection).</summary>
[OptionsValidator]
public sealed partial class GatewayOptionsValidator : IValidateOptions<GatewayOptions>;

public sealed class RateLimitSettings
{
    /// <summary>Requests a signed-in user may make per <see cref="Window"/> (token bucket, refilled continuously).</summary>
    [Range(1, 1_000_000_000)]
    public int UserPermits { get; set; } = 600;

    /// <summary>Requests an anonymous client IP may make per <see cref="Window"/>.</summary>
    [Range(1, 1_000_000_000)]
    public int AnonymousPermits { get; set; } = 60;

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Generations (message sends, chat completions) one user may have in flight through the gateway.</summary>
    [Range(1, 1000)]
    public int ConcurrentGenerationsPerUser { get; set; } = 4;
}
