using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Chat.IntegrationTests;

[Collection(ChatAppCollection.Name)]
public sealed class ApiErrorTests(ChatAppFixture fixture)
{
    private readonly ApiTestClient _client = new(fixture);

    [Theory]
    [InlineData("{\"title\": ", "$.title")]
    [InlineData("not json", "$")]
    [InlineData("{\"title\": 42}", "$.title")]
    [InlineData("[1,2]", "$")]
    public async Task CreateConversationWithMalformedJsonReturnsBadRequestNamingThePath(string body, string path)
    {
        using var response = await _client.SendAsync(HttpMethod.Post, "/api/v1/conversations", body);
        var problem = await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.BadRequest, "malformed_json");
        Assert.True(problem.GetProperty("errors").TryGetProperty(path, out _), problem.ToString());
    }

    [Fact]
    public async Task PostMessageWithMalformedJsonReturnsBadRequest()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var response = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", "{\"content\": \"unterminated");
        await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.BadRequest, "malformed_json");
    }

    [Fact]
    public async Task PostWithWrongContentTypeReturnsUnsupportedMediaType()
    {
        using var response = await _client.SendAsync(HttpMethod.Post, "/api/v1/conversations", configure: r =>
            r.Content = new StringContent("title=x", Encoding.UTF8, "application/x-www-form-urlencoded"));
        await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
    }

    [Fact]
    public async Task NulCharactersAreRefusedAsValidationNotDatabaseErrors()
    {
        using (var create = await _client.SendAsync(HttpMethod.Post, "/api/v1/conversations", "{\"title\":\"a\\u0000b\"}"))
        {
            await ApiTestClient.AssertProblemAsync(create, HttpStatusCode.BadRequest, "validation_failed");
        }
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var post = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", "{\"content\":\"a\\u0000b\"}");
        var problem = await ApiTestClient.AssertProblemAsync(post, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("content", out _));
    }

    [Fact]
    public async Task UnknownRouteReturnsNotFoundProblem()
    {
        using var response = await _client.SendAsync(HttpMethod.Get, "/api/v1/nothing-here");
        await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task NonGuidConversationIdReturnsNotFound()
    {
        using var response = await _client.SendAsync(HttpMethod.Get, "/api/v1/conversations/123");
        await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task RequestIdIsGeneratedWhenAbsentAndEchoedWhenValid()
    {
        using (var generated = await _client.SendAsync(HttpMethod.Get, "/api/v1/conversations"))
        {
            var id = Assert.Single(generated.Headers.GetValues("X-Request-Id"));
            Assert.Equal(32, id.Length);
        }

        using (var echoed = await _client.SendAsync(HttpMethod.Get, "/api/v1/conversations", configure: r =>
            r.Headers.Add("X-Request-Id", "client-req-123")))
        {
            Assert.Equal("client-req-123", Assert.Single(echoed.Headers.GetValues("X-Request-Id")));
        }

        // Echoed into problem bodies too.
        using (var problem = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{Guid.CreateVersion7()}", configure: r =>
            r.Headers.Add("X-Request-Id", "trace-me-404")))
        {
            var body = await ApiTestClient.AssertProblemAsync(problem, HttpStatusCode.NotFound, "conversation_not_found");
            Assert.Equal("trace-me-404", body.GetProperty("requestId").GetString());
        }
    }

    [Theory]
    [InlineData("has spaces in it")]
    [InlineData("semi;colon")]
    public async Task RequestIdThatIsInvalidIsReplaced(string supplied)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/conversations");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _client.Token);
        request.Headers.TryAddWithoutValidation("X-Request-Id", supplied);
        using var response = await fixture.Gateway.SendAsync(request);
        var id = Assert.Single(response.Headers.GetValues("X-Request-Id"));
        Assert.NotEqual(supplied, id);
        Assert.Equal(32, id.Length);
    }

    [Fact]
    public async Task RequestIdThatIsTooLongIsReplaced()
    {
        var supplied = new string('a', 129);
        using var response = await _client.SendAsync(HttpMethod.Get, "/api/v1/conversations", configure: r => r.Headers.Add("X-Request-Id", supplied));
        Assert.NotEqual(supplied, Assert.Single(response.Headers.GetValues("X-Request-Id")));
    }

    [Fact]
    public async Task UnauthorizedResponseFromTheApiCarriesRequestId()
    {
        // The API's own 401 (the gateway answers anonymous calls before they reach it, without a request id yet).
        using var api = ApiTestClient.DirectClient(fixture);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/conversations");
        request.Headers.Add("X-Request-Id", "anonymous-caller-1");
        using var response = await api.SendAsync(request);
        var problem = await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal("anonymous-caller-1", problem.GetProperty("requestId").GetString());
    }

    [Fact]
    public async Task RequestIdSentThroughTheGatewayReachesTheApi()
    {
        // The API's problem body names the id the client sent through the gateway: the same id on both hops.
        using var response = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{Guid.CreateVersion7()}",
            configure: r => r.Headers.Add("X-Request-Id", "through-the-gateway"));
        var problem = await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.NotFound, "conversation_not_found");
        Assert.Equal("through-the-gateway", problem.GetProperty("requestId").GetString());
    }
}
