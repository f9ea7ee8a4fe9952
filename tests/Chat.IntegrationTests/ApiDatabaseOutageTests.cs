using System.Diagnostics;
using System.Net;
using Xunit.Abstractions;

namespace Chat.IntegrationTests;

/// <summary>
/// chat-api while PostgreSQL is down or frozen (docs/API.md, "When PostgreSQL is unavailable"): every request is
/// answered within the bound, with 503 <c>database_unavailable</c> and <c>Retry-After</c> when it cannot be served;
/// requests that arrive during a short freeze are served once it ends; all works again once PostgreSQL is back.
/// </summary>
[Collection(OutageCollection.Name)]
public sealed class ApiDatabaseOutageTests(ChatAppFixture fixture, ITestOutputHelper output)
{
    /// <summary>The documented bound on a request's database work.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <summary>The documented bound on chat-api's <c>/health</c>.</summary>
    public static readonly TimeSpan HealthBound = TimeSpan.FromSeconds(2);

    /// <summary>Slack for a loaded 2-core machine (and the client's own side of a request).</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task RequestsWhilePostgresIsDownAnswerServiceUnavailableWithinTheBoundAndSucceedOnceItIsBack()
    {
        var client = new ApiTestClient(fixture, direct: true);
        var id = ApiTestClient.Id(await client.CreateConversationAsync("before the outage"));
        await client.PostMessageAsync(id, "stored before the outage");

        await ResourceFaults.KillAsync(fixture.App, "postgres");
        try
        {
            var answers = await Task.WhenAll(Requests(id).Select(r => TimedAsync(client, r)));
            foreach (var (request, response, elapsed) in answers)
            {
                using (response)
                {
                    output.WriteLine($"{request}: {(int)response.StatusCode} in {elapsed.TotalMilliseconds:0} ms");
                    await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "database_unavailable");
                    Assert.True(response.Headers.RetryAfter?.Delta is { } delta && delta > TimeSpan.Zero, $"{request}: no Retry-After");
                    Assert.True(elapsed < Bound + Margin, $"{request} took {elapsed}");
                }
            }
            var health = await ResourceFaultsTests.ApiHealthAsync(client, h => h.Status == "unhealthy", output);
            Assert.Equal("disconnected", health.Database);
        }
        finally
        {
            await ResourceFaults.StartAsync(fixture.App, "postgres");
        }

        // Back: the pool's dead connections are replaced and every request works again.
        using var cts = new CancellationTokenSource(ResourceFaults.Timeout);
        while (true)
        {
            using var list = await client.SendAsync(HttpMethod.Get, "/api/v1/conversations");
            if (list.StatusCode == HttpStatusCode.OK)
            {
                break;
            }
            Assert.False(cts.IsCancellationRequested, $"chat-api still answers {(int)list.StatusCode} after PostgreSQL is back");
            await Task.Delay(250, cts.Token);
        }
        foreach (var next in Requests(id))
        {
            var (request, response, elapsed) = await TimedAsync(client, next);
            using (response)
            {
                output.WriteLine($"after: {request}: {(int)response.StatusCode} in {elapsed.TotalMilliseconds:0} ms");
                Assert.True(response.IsSuccessStatusCode, $"{request}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }
        Assert.Equal("connected", (await ResourceFaultsTests.ApiHealthAsync(client, h => h.Status == "healthy", output)).Database);
    }

    [Fact]
    public async Task RequestsArrivingDuringATenSecondFreezeOfPostgresAreServedWhenItEnds()
    {
        var client = new ApiTestClient(fixture, direct: true);
        var id = ApiTestClient.Id(await client.CreateConversationAsync("before the freeze"));
        await client.PostMessageAsync(id, "stored before the freeze");

        var freeze = TimeSpan.FromSeconds(10);
        var frozen = Stopwatch.StartNew();
        await ResourceFaults.PauseAsync(fixture.App, "postgres");
        (string, HttpResponseMessage, TimeSpan)[] answers;
        try
        {
            var health = await ResourceFaultsTests.ApiHealthAsync(client, h => h.Status == "unhealthy", output);
            Assert.Equal("disconnected", health.Database);

            // The fault's shape, not a synchronisation: the requests arrive 3 s into the freeze, so it ends within their bound.
            await Task.Delay(TimeSpan.FromSeconds(3) - frozen.Elapsed);
            var requests = Requests(id, reply: false).Select(r => TimedAsync(client, r)).ToList();
            // The freeze lasts its full length (the fault's shape again); the requests are then waited for, not timed.
            await Task.Delay(freeze - frozen.Elapsed);
            await ResourceFaults.ResumeAsync(fixture.App, "postgres");
            answers = await Task.WhenAll(requests);
        }
        finally
        {
            await ResourceFaults.ResumeAsync(fixture.App, "postgres");
        }

        foreach (var (request, response, elapsed) in answers)
        {
            using (response)
            {
                output.WriteLine($"{request}: {(int)response.StatusCode} in {elapsed.TotalMilliseconds:0} ms");
                Assert.True(response.IsSuccessStatusCode, $"{request}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                Assert.True(elapsed < Bound + Margin, $"{request} took {elapsed}");
            }
        }
        Assert.Equal("connected", (await ResourceFaultsTests.ApiHealthAsync(client, h => h.Status == "healthy", output)).Database);
    }

    /// <summary>
    /// The REST calls a client makes most: create, list, read, history page, send (<paramref name="reply"/>: with a reply
    /// from the local model, whose own time then counts too).
    /// </summary>
    private static List<(HttpMethod Method, string Path, object? Body)> Requests(Guid id, bool reply = true) =>
    [
        (HttpMethod.Post, "/api/v1/conversations", new { title = "during the outage" }),
        (HttpMethod.Get, "/api/v1/conversations", null),
        (HttpMethod.Get, $"/api/v1/conversations/{id}", null),
        (HttpMethod.Get, $"/api/v1/conversations/{id}/messages?latest=true", null),
        (HttpMethod.Post, $"/api/v1/conversations/{id}/messages", new { content = "sent during the outage", clientMessageId = Guid.NewGuid().ToString("N"), reply }),
    ];

    private static async Task<(string Request, HttpResponseMessage Response, TimeSpan Elapsed)> TimedAsync(
        ApiTestClient client, (HttpMethod Method, string Path, object? Body) request)
    {
        var watch = Stopwatch.StartNew();
        var response = await client.SendAsync(request.Method, request.Path, request.Body);
        return ($"{request.Method} {request.Path}", response, watch.Elapsed);
    }
}
