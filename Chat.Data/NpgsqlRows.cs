using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Npgsql;

namespace Chat.Data;

/// <summary>
/// One statement through Npgsql on a context's connection, each row mapped as it is read: no EF Core query pipeline and
/// no buffered copy of the rows. For statements on hot paths, and for ones EF cannot express (<c>UPDATE … RETURNING</c>).
/// </summary>
public static class NpgsqlRows
{
    /// <summary>
    /// Runs <paramref name="sql"/> once (wrap it in the context's execution strategy to retry it) and returns the mapped
    /// rows; the connection is opened for it and closed after.
    /// </summary>
    public static async Task<List<T>> ReadRowsAsync<T>(
        this DatabaseFacade database, string sql, Action<NpgsqlParameterCollection> bind, Func<NpgsqlDataReader, T> map,
        int expectedRows, CancellationToken cancellationToken)
    {
        await database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = new NpgsqlCommand(sql, (NpgsqlConnection)database.GetDbConnection());
            bind(command.Parameters);
            var rows = new List<T>(expectedRows);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(map(reader));
            }
            return rows;
        }
        finally
        {
            await database.CloseConnectionAsync();
        }
    }
}
