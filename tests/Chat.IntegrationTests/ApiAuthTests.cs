using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Chat.IntegrationTests;

[Collection(ChatAppCollection.Name)]
public sealed class ApiAuthTests(ChatAppFixture fixture)
{
    public static TheoryData<string, string> Routes => new()
    {
        { "POST", "/api/v1/conversations" },
        { "GET", "/api/v1/conversations" },
        { "GET", $"/api/v1/conversations/{Guid.Empty}" },
        { "PATCH", $"/api/v1/conversations/{Guid.Empty}" },
        { "POST", $"/api/v1/conversations/{Guid.Empty}/archive" },
        { "POST", $"/api/v1/conversations/{Guid.Empty}/unarchive" },
        { "DELETE", $"/api/v1/conversations/{Guid.Empty}" },
        { "POST", $"/api/v1/conversations/{Guid.Empty}/restore" },
        { "GET", $"/api/v1/conversations/{Guid.Empty}/messages" },
        { "GET", $"/api/v1/conversations/{Guid.Empty}/messages/{Guid.Empty}" },
        { "POST", $"/api/v1/conversations/{Guid.Empty}/messages" },
    };

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task EveryRouteWithoutTokenReturnsUnauthorizedWithChallenge(string method, string path)
    {
        // Through the gateway (which now refuses anonymous /api calls at the edge) and at the API itself, which
        // must refuse them too: the gateway is not the only way in.
        using var api = ApiTestClient.DirectClient(fixture);
        foreach (var (client, fromEdge) in new[] { (fixture.Gateway, true), (api, false) })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = JsonContent.Create(new { content = "x" }) };
            using var response = await client.SendAsync(request);
            await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized", fromEdge);
            Assert.Contains(response.Headers.WwwAuthenticate, h => h.Scheme == "Bearer");
        }
    }

    [Theory]
    [InlineData("expired")]
    [InlineData("wrong-key")]
    [InlineData("wrong-audience")]
    [InlineData("wrong-issuer")]
    [InlineData("garbage")]
    [InlineData("no-tenant")]
    public async Task RequestWithInvalidTokenReturnsUnauthorized(string kind)
    {
        var token = kind switch
        {
            "expired" => TestTokens.Create("u", "t", lifetime: TimeSpan.FromMinutes(-10)),
            "wrong-key" => TestTokens.Create("u", "t", signingKey: "another-signing-key-that-is-long-enough-0123456789"),
            "wrong-audience" => TestTokens.Create("u", "t", audience: "someone-else"),
            "wrong-issuer" => TestTokens.Create("u", "t", issuer: "evil"),
            "garbage" => "not.a.jwt",
            _ => TestTokens.Create("u", ""),
        };
        using var api = ApiTestClient.DirectClient(fixture);
        foreach (var (client, fromEdge) in new[] { (fixture.Gateway, true), (api, false) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/conversations");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await client.SendAsync(request);
            if (kind == "no-tenant")
            {
                // A valid signature without tenant_id authenticates but satisfies no policy.
                Assert.True(response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized);
                continue;
            }
            // Shared codes (Chat.ServiceDefaults): token_expired for an expired token, invalid_token for any other bad one.
            await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.Unauthorized, kind == "expired" ? "token_expired" : "invalid_token", fromEdge);
            var challenge = Assert.Single(response.Headers.WwwAuthenticate);
            Assert.Equal("Bearer", challenge.Scheme);
            Assert.Contains("invalid_token", challenge.Parameter ?? "", StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task WriteWithReadOnlyScopeReturnsForbidden()
    {
        var reader = new ApiTestClient(fixture, scopes: "chat.read");
        using var create = await reader.SendAsync(HttpMethod.Post, "/api/v1/conversations", new { title = "nope" });
        await ApiTestClient.AssertProblemAsync(create, HttpStatusCode.Forbidden, "forbidden");

        using var list = await reader.SendAsync(HttpMethod.Get, "/api/v1/conversations");
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
    }

    [Fact]
    public async Task ReadWithWriteOnlyScopeReturnsForbidden()
    {
        var writer = new ApiTestClient(fixture, scopes: "chat.write");
        var id = ApiTestClient.Id(await writer.CreateConversationAsync());
        using var get = await writer.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}");
        await ApiTestClient.AssertProblemAsync(get, HttpStatusCode.Forbidden, "forbidden");
        using var messages = await writer.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}/messages");
        await ApiTestClient.AssertProblemAsync(messages, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task DevTokenEndpointMintsATokenTheApiAccepts()
    {
        using var response = await fixture.Gateway.PostAsJsonAsync("/api/v1/dev/token",
            new { userId = "dev-user", tenantId = "dev-tenant", scopes = "chat.read", lifetimeMinutes = 5 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ApiTestClient.JsonAsync(response);
        var token = body.GetProperty("accessToken").GetString();
        Assert.Equal("Bearer", body.GetProperty("tokenType").GetString());

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/conversations?status=archived");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var list = await fixture.Gateway.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        // The dev seed's archived conversation belongs to dev-user / dev-tenant.
        var items = (await ApiTestClient.JsonAsync(list)).GetProperty("items");
        Assert.Contains(items.EnumerateArray(), c => c.GetProperty("title").GetString() == "An archived conversation");

        // Read-only: writing is forbidden.
        using var write = new HttpRequestMessage(HttpMethod.Post, "/api/v1/conversations") { Content = JsonContent.Create(new { }) };
        write.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var forbidden = await fixture.Gateway.SendAsync(write);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
    }

    [Fact]
    public async Task DevTokenWithInvalidLifetimeReturnsValidationFailed()
    {
        using var response = await fixture.Gateway.PostAsJsonAsync("/api/v1/dev/token", new { lifetimeMinutes = 0 });
        await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task OpenApiDocumentListsTheRoutesInDevelopment()
    {
        using var api = fixture.App.CreateHttpClient("chat-api", "http");
        using var cts = new CancellationTokenSource(ChatAppFixture.StepTimeout);
        var document = await api.GetFromJsonAsync<JsonElement>("/openapi/v1.json", cts.Token);
        await File.WriteAllTextAsync(Path.Combine(AppContext.BaseDirectory, "openapi-v1.json"), document.ToString(), cts.Token);
        var paths = document.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/api/v1/conversations", out _));
        Assert.True(paths.TryGetProperty("/api/v1/conversations/{id}/messages", out _));
        using var scalar = await api.GetAsync("/scalar/v1", cts.Token);
        Assert.Equal(HttpStatusCode.OK, scalar.StatusCode);

        // Also through the gateway, where clients find it.
        var viaGateway = await fixture.Gateway.GetFromJsonAsync<JsonElement>("/openapi/v1.json", cts.Token);
        Assert.True(viaGateway.GetProperty("paths").TryGetProperty("/api/v1/conversations/{id}", out _));
    }
}
