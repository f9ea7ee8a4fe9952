using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Chat.Bench.Baselines.RestBaseline;

public sealed record Item(long Id, string Title, DateTimeOffset CreatedAt);

[JsonSerializable(typeof(Item))]
[JsonSerializable(typeof(Page))]
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
internal sealed partial class BaselineJsonContext : JsonSerializerContext;

internal static class ItemsApi
{
    public static async Task<Results<Ok<Item>, NotFound>> GetItemAsync(long id, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var command = db.CreateCommand("SELECT id, title, created_at FROM bench_items WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = id });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            ? TypedResults.Ok(new Item(reader.GetInt64(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2)))
            : TypedResults.NotFound();
    }
}
