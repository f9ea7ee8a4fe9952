using Microsoft.Extensions.Options;
using Npgsql;

namespace Chat.Bench.Baselines.RestBaseline;

/// <summary>Creates and fills <c>bench_items</c> and <c>bench_messages</c> (<see cref="PageSeed"/>) before the server takes requests (idempotent).</summary>
internal sealed class ItemSeeder(NpgsqlDataSource db, IOptions<RestBaselineOptions> options) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var command = db.CreateCommand($"""
            CREATE TABLE IF NOT EXISTS bench_items (id bigint PRIMARY KEY, title text NOT NULL, created_at timestamptz NOT NULL);
            INSERT INTO bench_items (id, title, created_at)
            SELECT i, 'item ' || i, now() FROM generate_series(1, {options.Value.Rows}) AS i
            ON CONFLICT (id) DO NOTHING;
            {PageSeed.Sql(options.Value.PageConversations)}
            """);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
