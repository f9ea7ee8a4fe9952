using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Chat.IntegrationTests;

/// <summary>
/// What clients see while services or their dependencies are down: replicas stopped or killed, Redis paused. These tests
/// break the app on purpose, so they have an app host of their own (<see cref="GatewayFaultCollection"/>), and each
/// leaves it whole again for the next.
/// </summary>
[Collection(GatewayFaultCollection.Name)]
public sealed class GatewayFaultTests(ChatAppFixture fixture)
{
    /// <summary>The most a <c>/health</c> may take, whatever is down (the bound, not the code's setting).</summary>
    private static readonly TimeSpan HealthBound = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task GatewayAnswersProblemDetailsWhileNoReplicaAnswers()
    {
        var api = await ResourceFaults.ReplicaIdsAsync(fixture.App, "chat-api");
        var streaming = await ResourceFaults.ReplicaIdsAsync(fixture.App, "chat-streaming");
        Assert.Equal(2, api.Count);
        Assert.Equal(2, streaming.Count);
        try
        {
            // Every replica stopped through the orchestrator. The development proxy in front of a stopped replica may
            // still hold the gateway's connection unanswered until YARP's 100 s activity timeout (docs/API.md, "Gateway
            // errors"); the answer is then a 504 problem, so the client waits longer than that.
            await Task.WhenAll(api.Concat(streaming).Select(r => ResourceFaults.StopAsync(fixture.App, r)));
            using var gateway = new HttpClient { BaseAddress = fixture.GatewayUri, Timeout = TimeSpan.FromSeconds(130) };

            // REST: a problem with a stable code and the request id the client gave, never an empty 502.
            var requestId = $"down-{Guid.NewGuid():N}";
            using (var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/conversations"))
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Create("fault-user", "fault-tenant"));
                request.Headers.Add("X-Request-Id", requestId);
                using var response = await gateway.SendAsync(request);
                var problem = await AssertUnavailableAsync(response);
                Assert.Equal(requestId, problem.GetProperty("requestId").GetString());
            }

            // WebSocket handshake: the same problem instead of an empty 502 (the id here is the one the gateway made).
            using (var handshake = new HttpRequestMessage(HttpMethod.Get, StreamingTestClient.WsUri(fixture.GatewayUri, TestTokens.Create("fault-user", "fault-tenant")).ToString().Replace("ws://", "http://", StringComparison.Ordinal)))
            {
                handshake.Headers.Connection.Add("Upgrade");
                handshake.Headers.Upgrade.Add(new ProductHeaderValue("websocket"));
                handshake.Headers.Add("Sec-WebSocket-Key", Convert.ToBase64String(Guid.NewGuid().ToByteArray()));
                handshake.Headers.Add("Sec-WebSocket-Version", "13");
                handshake.Headers.Add("Sec-WebSocket-Protocol", "chat.v1");
                using var response = await gateway.SendAsync(handshake);
                var problem = await AssertUnavailableAsync(response);
                Assert.Equal(response.Headers.GetValues("X-Request-Id").Single(), problem.GetProperty("requestId").GetString());
            }

            // The gateway's own health says so, promptly.
            using var health = await TimedHealthAsync(fixture.GatewayUri);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        }
        finally
        {
            // As long as a start of the app host may take: four replicas starting at once on a busy 2-core machine are slow.
            await Task.WhenAll(api.Concat(streaming).Select(r => ResourceFaults.StartAsync(fixture.App, r, ChatAppFixture.StartTimeout)));
            await WaitHealthyAsync(fixture.GatewayUri, "gateway");
        }
    }

    [Fact]
    public async Task GatewayKeepsAnsweringWhenOneApiReplicaIsKilled()
    {
        var victim = (await ResourceFaults.ReplicaIdsAsync(fixture.App, "chat-api"))[0];
        var token = TestTokens.Create("fault-user", $"fault-{Guid.NewGuid():N}");
        try
        {
            await ResourceFaults.KillAsync(fixture.App, victim);
            var failures = new List<string>();
            for (var i = 0; i < 40; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/conversations?limit=1");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                using var response = await fixture.Gateway.SendAsync(request);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    failures.Add($"#{i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
            }
            Assert.Empty(failures);
        }
        finally
        {
            await ResourceFaults.StartAsync(fixture.App, victim);
        }
    }

    [Fact]
    public async Task HealthOfEveryServiceIsUnhealthyWithinTwoSecondsWhileRedisIsPaused()
    {
        var services = new Dictionary<string, Uri>
        {
            ["gateway"] = fixture.GatewayUri,
            ["chat-api"] = fixture.App.GetEndpoint("chat-api", "http"),
            ["chat-streaming"] = fixture.App.GetEndpoint("chat-streaming", "http"),
        };
        foreach (var (name, uri) in services)
        {
            await WaitHealthyAsync(uri, name);
            using var healthy = await TimedHealthAsync(uri);
            Assert.True(healthy.StatusCode == HttpStatusCode.OK, $"{name} before the pause: {(int)healthy.StatusCode}");
        }

        var redis = ResourceFaults.ServiceProcessId(fixture.App, "cache");
        Assert.Equal("redis-server", (await File.ReadAllTextAsync($"/proc/{redis}/comm")).Trim());
        await ResourceFaults.PauseAsync(fixture.App, "cache");
        try
        {
            foreach (var (name, uri) in services)
            {
                using var response = await TimedHealthAsync(uri);
                Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{name} while Redis is paused: {(int)response.StatusCode}");
                var body = await response.Content.ReadFromJsonAsync<JsonElement>();
                Assert.Equal("unhealthy", body.GetProperty("status").GetString());
                if (name != "gateway")
                {
                    Assert.Equal("disconnected", body.GetProperty("checks").GetProperty("redis").GetString());
                }
            }
        }
        finally
        {
            await ResourceFaults.ResumeAsync(fixture.App, "cache");
        }

        // Whole again before the next test: every service healthy (bounded polling).
        foreach (var (name, uri) in services)
        {
            await WaitHealthyAsync(uri, name);
        }
    }

    private static async Task<JsonElement> AssertUnavailableAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        // 503 when the proxy refuses the connection; 504 after YARP's activity timeout when it holds it unanswered.
        var code = response.StatusCode switch
        {
            HttpStatusCode.ServiceUnavailable => "upstream_unavailable",
            HttpStatusCode.GatewayTimeout => "upstream_timeout",
            _ => throw new Xunit.Sdk.XunitException($"Expected 503 or 504, got {(int)response.StatusCode}: {text}"),
        };
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(text);
        var problem = document.RootElement.Clone();
        Assert.Equal((int)response.StatusCode, problem.GetProperty("status").GetInt32());
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal(response.Headers.GetValues("X-Request-Id").Single(), problem.GetProperty("requestId").GetString());
        return problem;
    }

    /// <summary>
    /// GET /health with a plain client (no retries), failing the test if it takes longer than the bound beyond what the
    /// service's <c>/alive</c> (no dependency) took just before: on a loaded machine every answer is slow, and only the
    /// time spent on a dependency counts against the bound.
    /// </summary>
    private static async Task<HttpResponseMessage> TimedHealthAsync(Uri service)
    {
        using var client = new HttpClient { BaseAddress = service, Timeout = ChatAppFixture.StepTimeout };
        var alive = Stopwatch.StartNew();
        using (var liveness = await client.GetAsync("/alive"))
        {
            await liveness.Content.LoadIntoBufferAsync();
        }
        alive.Stop();

        var clock = Stopwatch.StartNew();
        var response = await client.GetAsync("/health");
        await response.Content.LoadIntoBufferAsync();
        clock.Stop();
        Assert.True(clock.Elapsed < HealthBound + alive.Elapsed,
            $"{service}health took {clock.Elapsed.TotalMilliseconds:0} ms (/alive just before: {alive.Elapsed.TotalMilliseconds:0} ms)");
        return response;
    }

    /// <summary>Bounded polling until the service's <c>/health</c> answers 200.</summary>
    private static async Task WaitHealthyAsync(Uri service, string name)
    {
        using var client = new HttpClient { BaseAddress = service, Timeout = TimeSpan.FromSeconds(5) };
        await Poll.UntilAsync(async () =>
        {
            try
            {
                using var response = await client.GetAsync("/health");
                return response.StatusCode == HttpStatusCode.OK;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                return false; // not answering yet
            }
        }, ChatAppFixture.StartTimeout, $"{name} to be healthy again", TimeSpan.FromMilliseconds(250));
    }
}

/// <summary>
/// An app host of its own for the tests that stop, kill and pause parts of it; run after the parallel collections, alone,
/// so that timings are the app's and not a busy machine's.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GatewayFaultCollection : ICollectionFixture<ChatAppFixture>
{
    public const string Name = "gateway-faults";
}
