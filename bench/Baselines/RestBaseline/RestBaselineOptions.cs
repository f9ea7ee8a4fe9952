using System.ComponentModel.DataAnnotations;

namespace Chat.Bench.Baselines.RestBaseline;

/// <summary>Section <c>RestBaseline</c>: the database and how many rows to seed.</summary>
public sealed class RestBaselineOptions
{
    public const string SectionName = "RestBaseline";

    /// <summary>Npgsql connection string.</summary>
    [Required]
    public string Postgres { get; set; } = "";

    /// <summary>Rows of <c>bench_items</c> (ids 1..Rows); the bench asks for random ids in that range.</summary>
    [Range(1, 10_000_000)]
    public int Rows { get; set; } = 10_000;

    /// <summary>Conversations of <c>bench_messages</c> (1..PageConversations, 40 messages each) for the page floor.</summary>
    [Range(1, 100_000)]
    public int PageConversations { get; set; } = 100;
}
