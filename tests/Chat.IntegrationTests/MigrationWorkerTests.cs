using Npgsql;

namespace Chat.IntegrationTests;

[Collection(ChatAppCollection.Name)]
public sealed class MigrationWorkerTests(ChatAppFixture fixture)
{
    [Fact]
    public async Task SecondRunIsIdempotentAndExitsZero()
    {
        var connectionString = await fixture.ConnectionStringAsync("chatdb");
        var before = await SnapshotAsync(connectionString);

        var result = await RunWorkerAsync(connectionString);

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains("Applying 0 pending migration(s)", result.Output, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync(connectionString));
    }

    [Fact]
    public async Task FailureExitsNonZeroWithTheErrorLogged()
    {
        var builder = new NpgsqlConnectionStringBuilder(await fixture.ConnectionStringAsync("chatdb")) { Password = "wrong-password" };

        var result = await RunWorkerAsync(builder.ConnectionString);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Migrating the database failed", result.Output, StringComparison.Ordinal);
    }

    private static Task<RepoProcess.Result> RunWorkerAsync(string connectionString) =>
        RepoProcess.RunAsync(
            [RepoProcess.BuiltDll("Chat.MigrationService")],
            new Dictionary<string, string?>
            {
                ["ConnectionStrings__chatdb"] = connectionString,
                ["DOTNET_ENVIRONMENT"] = "Development",
            },
            timeout: TimeSpan.FromSeconds(90));

    private static async Task<(long Migrations, long Conversations, long Messages)> SnapshotAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT (SELECT count(*) FROM "__EFMigrationsHistory"),
                   (SELECT count(*) FROM chat_conversations WHERE tenant_id = 'dev-tenant'),
                   (SELECT count(*) FROM chat_messages WHERE tenant_id = 'dev-tenant')
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }
}
