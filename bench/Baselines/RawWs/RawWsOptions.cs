using System.ComponentModel.DataAnnotations;

namespace Chat.Bench.Baselines.RawWs;

/// <summary>Section <c>RawWs</c>: where Redis is and how many frames a socket may have queued.</summary>
public sealed class RawWsOptions
{
    public const string SectionName = "RawWs";

    /// <summary>StackExchange.Redis configuration string, e.g. <c>127.0.0.1:6379,password=...</c>.</summary>
    [Required]
    public string Redis { get; set; } = "";

    /// <summary>Frames queued per socket; a socket whose queue is full is too slow and is aborted (counted as loss).</summary>
    [Range(16, 1_000_000)]
    public int SendQueueCapacity { get; set; } = 1024;
}
