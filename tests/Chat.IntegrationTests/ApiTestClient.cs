using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Chat.IntegrationTests;

/// <summary>
/// Calls the API as one user of one tenant (fresh ids per test, so tests do not see each other): through the gateway,
/// or with <paramref name="direct"/> straight to chat-api, for properties of the API itself that the gateway's edge
/// policies (its own 401s, the per-user cap on concurrent message posts) would mask.
/// </summary>
public sealed class ApiTestClient(
    ChatAppFixture fixture, string? tenantId = null, string? userId = null, string scopes = TestTokens.AllScopes, bool direct = false)
{
    private readonly HttpClient _http = direct ? DirectClient(fixture) : fixture.Gateway;

    public string TenantId { get; } = tenantId ?? $"tenant-{Guid.NewGuid():N}";
    public string UserId { get; } = userId ?? $"user-{Guid.NewGuid():N}";
    public string Token => TestTokens.Create(UserId, TenantId, scopes);

    public HttpClient Http => _http;

    /// <summary>An HTTP client for chat-api itself, bypassing the gateway.</summary>
    public static HttpClient DirectClient(ChatAppFixture fixture)
    {
        var client = fixture.App.CreateHttpClient("chat-api", "http");
        client.Timeout = ChatAppFixture.StepTimeout;
        return client;
    }

    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body = null, Action<HttpRequestMessage>? configure = null,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        if (body is string raw)
        {
            request.Content = new StringContent(raw, Encoding.UTF8, "application/json");
        }
        else if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        configure?.Invoke(request);
        return _http.SendAsync(request, completion);
    }

    public async Task<JsonElement> CreateConversationAsync(string? title = null)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/v1/conversations", new { title = title ?? "test conversation" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await JsonAsync(response);
    }

    /// <summary>Stores a user message; with <paramref name="reply"/> false (the default here) no reply is generated.</summary>
    public async Task<JsonElement> PostMessageAsync(Guid conversationId, string content, string? clientMessageId = null, bool reply = false)
    {
        using var response = await SendAsync(HttpMethod.Post, $"/api/v1/conversations/{conversationId}/messages", new { content, clientMessageId, reply });
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, $"POST message: {(int)response.StatusCode}");
        return await JsonAsync(response);
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>
    /// Asserts an RFC 7807 body with the given status and code, and the request id echoed in header and body.
    /// <paramref name="fromEdge"/>: the answer may come from the gateway itself (its 401s), which does not add request
    /// ids yet; then the id is checked only when present.
    /// </summary>
    public static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code, bool fromEdge = false)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {(int)status} {code}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(text);
        var problem = document.RootElement.Clone();
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        if (!fromEdge || response.Headers.Contains("X-Request-Id"))
        {
            var requestId = Assert.Single(response.Headers.GetValues("X-Request-Id"));
            Assert.Equal(requestId, problem.GetProperty("requestId").GetString());
        }
        Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        return problem;
    }

    public static Guid Id(JsonElement conversation) => conversation.GetProperty("id").GetGuid();

    public static async Task<NpgsqlConnection> OpenDatabaseAsync(ChatAppFixture fixture)
    {
        var connection = new NpgsqlConnection(await fixture.ConnectionStringAsync("chatdb"));
        await connection.OpenAsync();
        return connection;
    }

    public static async Task<T> ScalarAsync<T>(ChatAppFixture fixture, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = await OpenDatabaseAsync(fixture);
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
