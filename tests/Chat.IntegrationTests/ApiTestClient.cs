using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Chat.IntegrationTests;

/// <summary>Calls the API through the gateway as one user of one tenant (fresh ids per test, so tests do not see each other).</summary>
public sealed class ApiTestClient(ChatAppFixture fixture, string? tenantId = null, string? userId = null, string scopes = TestTokens.AllScopes)
{
    public string TenantId { get; } = tenantId ?? $"tenant-{Guid.NewGuid():N}";
    public string UserId { get; } = userId ?? $"user-{Guid.NewGuid():N}";
    public string Token => TestTokens.Create(UserId, TenantId, scopes);

    public HttpClient Http => fixture.Gateway;

    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body = null, Action<HttpRequestMessage>? configure = null)
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
        return fixture.Gateway.SendAsync(request);
    }

    public async Task<JsonElement> CreateConversationAsync(string? title = null)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/v1/conversations", new { title = title ?? "test conversation" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await JsonAsync(response);
    }

    public async Task<JsonElement> PostMessageAsync(Guid conversationId, string content, string? clientMessageId = null)
    {
        using var response = await SendAsync(HttpMethod.Post, $"/api/v1/conversations/{conversationId}/messages", new { content, clientMessageId });
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, $"POST message: {(int)response.StatusCode}");
        return await JsonAsync(response);
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>Asserts an RFC 7807 body with the given status and code, and the request id echoed in header and body.</summary>
    public static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {(int)status} {code}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(text);
        var problem = document.RootElement.Clone();
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        var requestId = Assert.Single(response.Headers.GetValues("X-Request-Id"));
        Assert.Equal(requestId, problem.GetProperty("requestId").GetString());
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
