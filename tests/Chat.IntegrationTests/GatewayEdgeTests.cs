using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Chat.IntegrationTests;

/// <summary>The gateway's own edge behaviour: identity, limits, CORS, headers, health.</summary>
[Collection(ChatAppCollection.Name)]
public sealed class GatewayEdgeTests(ChatAppFixture fixture)
{
    [Fact]
    public async Task ApiWithoutTokenIsRefusedAtTheEdgeWithProblemDetails()
    {
        using var response = await fixture.Gateway.GetAsync("/api/v1/conversations");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("unauthorized", problem.GetProperty("code").GetString());
        Assert.Equal(401, problem.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task ExpiredTokenIsRefusedWithTokenExpiredCode()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/conversations");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer",
            TestTokens.Create("edge-user", "edge-tenant", lifetime: TimeSpan.FromMinutes(-10)));
        using var response = await fixture.Gateway.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("token_expired", problem.GetProperty("code").GetString());
    }

    [Fact]
    public async Task TokenSignedWithAnotherKeyIsRefused()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/conversations");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer",
            TestTokens.Create("edge-user", "edge-tenant", signingKey: "a-completely-different-key-0123456789abcdef"));
        using var response = await fixture.Gateway.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("invalid_token", problem.GetProperty("code").GetString());
    }

    [Fact]
    public async Task OversizeBodyIsRefusedAtTheEdge()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/conversations")
        {
            Content = new ByteArrayContent(new byte[2 * 1024 * 1024]) { Headers = { ContentType = new("application/json") } },
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Create("edge-user", "edge-tenant"));
        // As a well-behaved client uploading a large body does: the gateway refuses before any of it is sent
        // (without this, the refusal can race the upload and the client sees a broken pipe instead of the 413).
        request.Headers.ExpectContinue = true;
        using var response = await fixture.Gateway.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("payload_too_large", problem.GetProperty("code").GetString());
    }

    [Fact]
    public async Task RequestsPastTheUserLimitGet429WithRetryAfter()
    {
        var token = TestTokens.Create($"flood-{Guid.NewGuid():N}", "edge-tenant");
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 1000 && limited is null; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/conversations?limit=1");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var response = await fixture.Gateway.SendAsync(request);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited = response;
            }
            else
            {
                response.Dispose();
            }
        }

        Assert.NotNull(limited);
        using (limited)
        {
            Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
            var problem = await limited.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("rate_limited", problem.GetProperty("code").GetString());
        }

        // Another user is not affected by the first one's flood.
        using var other = new HttpRequestMessage(HttpMethod.Get, "/api/health");
        using var otherResponse = await fixture.Gateway.SendAsync(other);
        Assert.Equal(HttpStatusCode.OK, otherResponse.StatusCode);
    }

    [Fact]
    public async Task CorsAllowsTheConfiguredOriginAndRefusesOthers()
    {
        using var allowed = new HttpRequestMessage(HttpMethod.Options, "/api/v1/conversations");
        allowed.Headers.Add("Origin", ChatAppFixture.AllowedOrigin);
        allowed.Headers.Add("Access-Control-Request-Method", "POST");
        allowed.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        using var allowedResponse = await fixture.Gateway.SendAsync(allowed);
        Assert.Equal(ChatAppFixture.AllowedOrigin, allowedResponse.Headers.GetValues("Access-Control-Allow-Origin").Single());

        using var refused = new HttpRequestMessage(HttpMethod.Options, "/api/v1/conversations");
        refused.Headers.Add("Origin", "https://evil.example");
        refused.Headers.Add("Access-Control-Request-Method", "POST");
        using var refusedResponse = await fixture.Gateway.SendAsync(refused);
        Assert.False(refusedResponse.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task ResponsesCarrySecurityHeaders()
    {
        using var response = await fixture.Gateway.GetAsync("/api/health");

        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.Contains("default-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GatewayHealthReflectsItsDestinations()
    {
        using var response = await fixture.Gateway.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var health = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("gateway", health.GetProperty("service").GetString());
        Assert.Equal("healthy", health.GetProperty("checks").GetProperty("chat-api").GetString());
        Assert.Equal("healthy", health.GetProperty("checks").GetProperty("chat-streaming").GetString());
    }

    [Fact]
    public async Task RequestIdGivenAtTheEdgeReachesTheApiAndComesBack()
    {
        var requestId = $"edge-{Guid.NewGuid():N}";
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/conversations/{Guid.CreateVersion7()}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Create("edge-user", "edge-tenant"));
        request.Headers.Add("X-Request-Id", requestId);
        using var response = await fixture.Gateway.SendAsync(request);

        // The API answered (404 for an unknown conversation) with the id the client gave the gateway.
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(requestId, response.Headers.GetValues("X-Request-Id").Single());
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("conversation_not_found", problem.GetProperty("code").GetString());
        Assert.Equal(requestId, problem.GetProperty("requestId").GetString());

        // Without one, the gateway makes one and the API uses it too.
        using var anonymous = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/conversations/{Guid.CreateVersion7()}");
        anonymous.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Create("edge-user", "edge-tenant"));
        using var generated = await fixture.Gateway.SendAsync(anonymous);
        var id = generated.Headers.GetValues("X-Request-Id").Single();
        Assert.Equal(id, (await generated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("requestId").GetString());
    }

    [Theory]
    [InlineData("CONNECT", "/api/v1/conversations")]
    [InlineData("CONNECT", "/ws")]
    [InlineData("CONNECT", "{authority}")] // the form a tunnel asks in (RFC 9110 §9.3.6)
    [InlineData("TRACE", "/api/v1/conversations")]
    [InlineData("TRACE", "/ws")]
    [InlineData("TRACE", "/")]
    [InlineData("BREW", "/v1/models")]
    public async Task MethodNothingServesGets405ProblemWithAllow(string method, string target)
    {
        // Raw HTTP/1.1, since HttpClient rewrites a CONNECT's target to host:port.
        var authority = fixture.GatewayUri.Authority;
        var requestId = $"method-{Guid.NewGuid():N}";
        var token = TestTokens.Create("edge-user", "edge-tenant");
        var (status, headers, body) = await RawHttp.SendAsync(fixture.GatewayUri,
            $"{method} {target.Replace("{authority}", authority, StringComparison.Ordinal)} HTTP/1.1\r\nHost: {authority}\r\n" +
            $"Authorization: Bearer {token}\r\nX-Request-Id: {requestId}\r\nConnection: close\r\n\r\n");

        Assert.True(status == 405, $"{method} {target}: {status} {body}");
        Assert.StartsWith("application/problem+json", headers["content-type"], StringComparison.Ordinal);
        using var document = JsonDocument.Parse(body);
        var problem = document.RootElement;
        Assert.Equal("method_not_allowed", problem.GetProperty("code").GetString());
        Assert.Equal(405, problem.GetProperty("status").GetInt32());
        Assert.Equal(requestId, problem.GetProperty("requestId").GetString());
        // The methods the routes in docs/API.md and docs/PROTOCOL.md use, and nothing a tunnel or an echo needs.
        var allow = headers["allow"].Split(',', StringSplitOptions.TrimEntries).ToHashSet();
        Assert.Superset(new HashSet<string> { "GET", "POST", "PATCH", "DELETE", "OPTIONS" }, allow);
        Assert.DoesNotContain(method, allow);
    }

    public static TheoryData<string, string> TokensNamingTwoIdentities => new()
    {
        // tenant_id as an array: the first value must not be taken.
        { "tenant-array", TestTokens.CreateEdited("edge-user", "t1", p => p.Replace("\"tenant_id\":\"t1\"", "\"tenant_id\":[\"t1\",\"t2\"]", StringComparison.Ordinal)) },
        // tenant_id twice in the payload.
        { "tenant-twice", TestTokens.CreateEdited("edge-user", "t1", p => p.Replace("\"tenant_id\":\"t1\"", "\"tenant_id\":\"t1\",\"tenant_id\":\"t2\"", StringComparison.Ordinal)) },
        // sub as an array (refused by the token handler already; kept so it stays refused).
        { "sub-array", TestTokens.CreateEdited("u1", "t1", p => p.Replace("\"sub\":\"u1\"", "\"sub\":[\"u1\",\"u2\"]", StringComparison.Ordinal)) },
    };

    [Theory]
    [MemberData(nameof(TokensNamingTwoIdentities))]
    public async Task TokenNamingTwoTenantsOrUsersIsRefusedByGatewayAndApi(string kind, string token)
    {
        using var api = ApiTestClient.DirectClient(fixture);
        foreach (var (client, fromEdge) in new[] { (fixture.Gateway, true), (api, false) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/conversations");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await client.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{kind} via {(fromEdge ? "gateway" : "chat-api")}: {(int)response.StatusCode}");
            await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.Unauthorized, "invalid_token", fromEdge);
        }
    }
}
