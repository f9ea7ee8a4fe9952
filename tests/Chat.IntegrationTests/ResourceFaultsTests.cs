using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Npgsql;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Chat.IntegrationTests;

/// <summary>
/// An app host of its own for tests that kill or freeze PostgreSQL and Redis (the shared one must stay whole).
/// Its tests run one after another and each leaves every resource running.
/// </summary>
[CollectionDefinition(Name)]
public sealed class OutageCollection : ICollectionFixture<ChatAppFixture>
{
    public const string Name = "outage";
}

/// <summary>What <see cref="ResourceFaults"/> promises: a killed PostgreSQL or Redis starts again, with or without its data.</summary>
[Collection(OutageCollection.Name)]
public sealed class ResourceFaultsTests(ChatAppFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task KilledPostgresStartsAgainWithItsDataAndTheApiRecovers()
    {
        var client = new ApiTestClient(fixture, direct: true);
        var id = ApiTestClient.Id(await client.CreateConversationAsync("written before the kill"));
        var port = new NpgsqlConnectionStringBuilder(await fixture.ConnectionStringAsync("chatdb")).Port;
        var postmaster = ResourceFaults.ServiceProcessId(fixture.App, "postgres");

        await ResourceFaults.KillAsync(fixture.App, "postgres");
        try
        {
            Assert.Equal("disconnected", (await ApiHealthAsync(client, h => h.Status == "unhealthy", output)).Database);
        }
        finally
        {
            await ResourceFaults.StartAsync(fixture.App, "postgres");
        }

        Assert.NotEqual(postmaster, ResourceFaults.ServiceProcessId(fixture.App, "postgres"));
        Assert.Equal(port, new NpgsqlConnectionStringBuilder(await fixture.ConnectionStringAsync("chatdb")).Port);
        Assert.Equal("written before the kill", await ApiTestClient.ScalarAsync<string>(fixture,
            "select title from chat_conversations where id = @id", ("id", id)));
        Assert.Equal("connected", (await ApiHealthAsync(client, h => h.Status == "healthy", output)).Database);
        using var read = await client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Fact]
    public async Task KilledRedisStartsAgainEmptyAndTheApiRecovers()
    {
        var client = new ApiTestClient(fixture, direct: true);
        var key = $"fault-test:{Guid.NewGuid():N}";
        await using (var before = await ConnectionMultiplexer.ConnectAsync(await fixture.ConnectionStringAsync("cache")))
        {
            await before.GetDatabase().StringSetAsync(key, "before the kill");
        }

        await ResourceFaults.KillAsync(fixture.App, "cache");
        try
        {
            // Not held to the 2 s bound: the Redis check's own timeout is not this test's subject.
            Assert.Equal("disconnected", (await ApiHealthAsync(client, h => h.Status == "unhealthy", output, bounded: false)).Redis);
        }
        finally
        {
            await ResourceFaults.StartAsync(fixture.App, "cache");
        }

        await using var after = await ConnectionMultiplexer.ConnectAsync(await fixture.ConnectionStringAsync("cache"));
        Assert.False(await after.GetDatabase().KeyExistsAsync(key), "local-mode Redis has no persistence: it comes back empty");
        Assert.Equal("connected", (await ApiHealthAsync(client, h => h.Status == "healthy", output, bounded: false)).Redis);
    }

    [Fact]
    public async Task PausedPostgresAnswersNothingUntilResumedAndLosesNothing()
    {
        await using var connection = await ApiTestClient.OpenDatabaseAsync(fixture);
        var backend = connection.ProcessID;
        await ResourceFaults.PauseAsync(fixture.App, "postgres");
        Task<object?> query;
        try
        {
            Assert.True(ProcFs.IsStopped(backend), $"backend {backend} is not paused");
            await using var command = new NpgsqlCommand("select 42", connection);
            query = command.ExecuteScalarAsync();
            // The query has reached the server: its bytes wait, unread, in the paused backend's socket. Only that backend
            // could answer it, so the client must still be waiting (not failed, not answered).
            await Poll.UntilAsync(() => ProcFs.UnreadTcpBytes(backend) > 0, ResourceFaults.Timeout, "the query to reach the paused backend", TimeSpan.FromMilliseconds(20));
            Assert.False(query.IsCompleted, $"the query ended while the server was paused: {query.Status}");
        }
        finally
        {
            await ResourceFaults.ResumeAsync(fixture.App, "postgres");
        }
        Assert.Equal(42, await query.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task KilledChatApiIsTheServiceUnderItsDotnetRunAndStartsAgain()
    {
        // chat-api runs two replicas: a fault names one by its resource id.
        var replica = (await ResourceFaults.ReplicaIdsAsync(fixture.App, "chat-api"))[0];
        var service = ResourceFaults.ServiceProcessId(fixture.App, replica);
        var command = (await File.ReadAllTextAsync($"/proc/{service}/cmdline")).Split('\0');
        // The service itself (its apphost, or `dotnet Chat.Api.dll`), not the `dotnet run` wrapper above it.
        Assert.DoesNotContain("run", command);
        Assert.Contains(command, a => Path.GetFileName(a) is "Chat.Api" or "Chat.Api.dll");

        await ResourceFaults.KillAsync(fixture.App, replica);
        Assert.False(Directory.Exists($"/proc/{service}") && !File.ReadAllText($"/proc/{service}/stat").Contains(") Z", StringComparison.Ordinal));
        await ResourceFaults.StartAsync(fixture.App, replica);

        Assert.NotEqual(service, ResourceFaults.ServiceProcessId(fixture.App, replica));
        var client = new ApiTestClient(fixture, direct: true);
        using var created = await client.SendAsync(HttpMethod.Post, "/api/v1/conversations", new { title = "after the restart" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }

    public sealed record Health(string Status, string? Database, string? Redis);

    /// <summary>Polls chat-api's <c>/health</c> until <paramref name="until"/> holds; <paramref name="bounded"/>: each answer within 2 s plus a margin.</summary>
    internal static async Task<Health> ApiHealthAsync(ApiTestClient client, Func<Health, bool> until, ITestOutputHelper output, bool bounded = true)
    {
        using var cts = new CancellationTokenSource(ResourceFaults.Timeout);
        Health? last = null;
        while (!cts.IsCancellationRequested)
        {
            var watch = Stopwatch.StartNew();
            using var response = await client.Http.GetAsync("/health", cts.Token);
            var elapsed = watch.Elapsed;
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cts.Token));
            var checks = body.RootElement.GetProperty("checks");
            last = new Health(body.RootElement.GetProperty("status").GetString()!,
                checks.TryGetProperty("database", out var db) ? db.GetString() : null,
                checks.TryGetProperty("redis", out var redis) ? redis.GetString() : null);
            output.WriteLine($"/health {(int)response.StatusCode} {last} in {elapsed.TotalMilliseconds:0} ms");
            Assert.True(!bounded || elapsed < ApiDatabaseOutageTests.HealthBound + ApiDatabaseOutageTests.Margin, $"/health took {elapsed}");
            Assert.Equal(last.Status == "healthy" ? HttpStatusCode.OK : HttpStatusCode.ServiceUnavailable, response.StatusCode);
            if (until(last))
            {
                return last;
            }
            await Task.Delay(250, cts.Token);
        }
        Assert.Fail($"chat-api's /health did not change as expected; last: {last}");
        return null!;
    }
}
