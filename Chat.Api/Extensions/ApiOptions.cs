using System.ComponentModel.DataAnnotations;

namespace Chat.Api.Extensions;

/// <summary>Conversation lifecycle settings (section <c>Conversations</c>).</summary>
public sealed class ConversationsOptions
{
    public const string SectionName = "Conversations";

    /// <summary>How long a soft-deleted conversation can be restored; the purge removes it afterwards.</summary>
    [Range(1, 3650)]
    public int RetentionDays { get; set; } = 30;

    /// <summary>How often the purge looks for conversations past retention.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan PurgeInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Conversations deleted per statement: bounds each transaction's locks and WAL.</summary>
    [Range(1, 10_000)]
    public int PurgeBatchSize { get; set; } = 500;

    /// <summary>Batches per run: bounds one run's work; the rest waits for the next tick.</summary>
    [Range(1, 1_000)]
    public int PurgeMaxBatchesPerRun { get; set; } = 20;

    public TimeSpan Retention => TimeSpan.FromDays(RetentionDays);
}

/// <summary>Message limits (section <c>Messages</c>).</summary>
public sealed class MessagesOptions
{
    public const string SectionName = "Messages";

    /// <summary>Largest message content in UTF-8 bytes; more is refused with 413 <c>content_too_large</c>.</summary>
    [Range(1, 1024 * 1024)]
    public int MaxContentBytes { get; set; } = 32 * 1024;

    /// <summary>How many of the newest completed messages are read to build a reply's context (the model's window then trims).</summary>
    [Range(1, 100_000)]
    public int MaxHistoryMessages { get; set; } = 500;

    /// <summary>How long a synchronous (JSON) send waits for the reply before answering 202 with the generation to follow.</summary>
    public TimeSpan SyncReplyTimeout { get; set; } = TimeSpan.FromMinutes(2);
}
