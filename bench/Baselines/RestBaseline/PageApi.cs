using Npgsql;

namespace Chat.Bench.Baselines.RestBaseline;

/// <summary>One message of a page, in the JSON shape of Chat's <c>MessageResponse</c>.</summary>
public sealed record PageMessage(
    Guid Id, Guid ConversationId, string Role, string Content, string Status, string? ClientMessageId, string? Model,
    string? Provider, Guid? ParentMessageId, Guid? GenerationId, int? PromptTokens, int? CompletionTokens,
    int? TotalTokens, string? FinishReason, DateTimeOffset CreatedAt);

public sealed record Page(List<PageMessage> Items, string? NextCursor);

/// <summary>
/// The history-page floor: the SQL a Chat history page runs (minus its owner filter and the conversation's EXISTS),
/// read with Npgsql into the same JSON — no authentication, no EF Core, no middleware. It tells how much of the
/// page's cost is the page itself (40 rows, ~21 KB of JSON) and how much is Chat.
/// </summary>
internal static class PageApi
{
    /// <summary>Conversation <c>n</c>'s id: <c>00000000-0000-0000-0000-{n:x12}</c> (SQL and C# agree).</summary>
    public static string ConversationSql(string n) => $"('00000000-0000-0000-0000-' || lpad(to_hex({n}), 12, '0'))::uuid";

    /// <summary>Message id of conversation <c>c</c>, pair <c>i</c>, user (0) or reply (1).</summary>
    public static string MessageSql(string c, string i, string kind) =>
        $"('00000000-0000-' || lpad(to_hex({kind}), 4, '0') || '-' || lpad(to_hex({i}), 4, '0') || '-' || lpad(to_hex({c}), 12, '0'))::uuid";

    public static Guid Conversation(int n) => new($"00000000-0000-0000-0000-{n:x12}");

    public static async Task<Page> GetPageAsync(int n, int? limit, NpgsqlDataSource db, CancellationToken ct)
    {
        var take = Math.Clamp(limit ?? 50, 1, 100);
        await using var command = db.CreateCommand("""
            SELECT id, conversation_id, role, content, status, client_message_id, model, provider, parent_message_id,
                   generation_id, prompt_tokens, completion_tokens, total_tokens, finish_reason, created_at
            FROM bench_messages WHERE conversation_id = $1 ORDER BY created_at, id LIMIT $2
            """);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = Conversation(n) });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = take + 1 });
        await using var reader = await command.ExecuteReaderAsync(ct);
        var items = new List<PageMessage>(take + 1);
        while (await reader.ReadAsync(ct))
        {
            items.Add(new PageMessage(
                reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetString(7), reader.IsDBNull(8) ? null : reader.GetGuid(8),
                reader.IsDBNull(9) ? null : reader.GetGuid(9), reader.IsDBNull(10) ? null : reader.GetInt32(10),
                reader.IsDBNull(11) ? null : reader.GetInt32(11), reader.IsDBNull(12) ? null : reader.GetInt32(12),
                reader.IsDBNull(13) ? null : reader.GetString(13), reader.GetFieldValue<DateTimeOffset>(14)));
        }
        string? next = null;
        if (items.Count > take)
        {
            items.RemoveAt(take);
            next = $"{items[^1].CreatedAt:O}|{items[^1].Id}";
        }
        return new Page(items, next);
    }
}
