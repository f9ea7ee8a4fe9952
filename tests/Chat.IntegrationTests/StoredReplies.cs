using Npgsql;

namespace Chat.IntegrationTests;

/// <summary>What the database holds about replies (assistant messages by generation id), read straight from PostgreSQL.</summary>
public sealed class StoredReplies(ChatAppFixture fixture)
{
    /// <summary>Each reply's status and checkpointed chunk count (0 before its first checkpoint; "missing" before its row).</summary>
    public async Task<Dictionary<Guid, (string Status, long Chunks)>> CheckpointsAsync(IReadOnlyCollection<Guid> generations)
    {
        var rows = generations.ToDictionary(g => g, _ => ("missing", 0L));
        await ReadAsync("SELECT generation_id, status, coalesce(checkpoint_chunks, 0) FROM chat_messages WHERE generation_id = ANY(@g)",
            generations, r => rows[r.GetGuid(0)] = (r.GetString(1), r.GetInt64(2)));
        return rows;
    }

    /// <summary>Waits (bounded) until every reply has checkpointed <paramref name="chunks"/> chunks.</summary>
    public Task WaitForChunksAsync(IReadOnlyCollection<Guid> generations, int chunks) =>
        Poll.UntilAsync(async () => (await CheckpointsAsync(generations)).Values.All(c => c.Chunks >= chunks),
            TimeSpan.FromSeconds(30), $"every reply to checkpoint {chunks} chunks", TimeSpan.FromMilliseconds(200));

    /// <summary>Each reply's status and text.</summary>
    public async Task<Dictionary<Guid, (string Status, string Content)>> RowsAsync(IReadOnlyCollection<Guid> generations)
    {
        var rows = new Dictionary<Guid, (string, string)>();
        await ReadAsync("SELECT generation_id, status, content FROM chat_messages WHERE generation_id = ANY(@g)",
            generations, r => rows[r.GetGuid(0)] = (r.GetString(1), r.GetString(2)));
        return rows;
    }

    /// <summary>Polls (bounded) until none of the replies is <c>streaming</c>; returns their status and text.</summary>
    public async Task<Dictionary<Guid, (string Status, string Content)>> WaitUntilNotStreamingAsync(IReadOnlyCollection<Guid> generations, TimeSpan bound)
    {
        Dictionary<Guid, (string Status, string Content)> rows = [];
        await Poll.UntilAsync(async () =>
        {
            try
            {
                rows = await RowsAsync(generations);
                return rows.Values.All(r => r.Status != "streaming");
            }
            catch (NpgsqlException)
            {
                return false; // still coming back
            }
        }, bound, "no reply to be streaming", TimeSpan.FromMilliseconds(500));
        return rows;
    }

    /// <summary>The lease owner (host:pid of a chat-api replica) of each reply still streaming.</summary>
    public async Task<Dictionary<Guid, string>> LeaseOwnersAsync(IReadOnlyCollection<Guid> generations)
    {
        var owners = new Dictionary<Guid, string>();
        await ReadAsync("SELECT generation_id, lease_owner FROM chat_messages WHERE generation_id = ANY(@g) AND status = 'streaming'",
            generations, r => owners[r.GetGuid(0)] = r.GetString(1));
        return owners;
    }

    private async Task ReadAsync(string sql, IReadOnlyCollection<Guid> generations, Action<NpgsqlDataReader> row)
    {
        await using var db = await ApiTestClient.OpenDatabaseAsync(fixture);
        await using var command = new NpgsqlCommand(sql, db);
        command.Parameters.AddWithValue("g", generations.ToArray());
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            row(reader);
        }
    }
}
