using System.ComponentModel.DataAnnotations;

namespace Chat.Bench.Baselines.SignalRPeer;

/// <summary>Section <c>SignalRPeer</c>: the Redis the backplane uses.</summary>
public sealed class SignalRPeerOptions
{
    public const string SectionName = "SignalRPeer";

    /// <summary>StackExchange.Redis configuration string, e.g. <c>127.0.0.1:6379,password=...</c>.</summary>
    [Required]
    public string Redis { get; set; } = "";
}
