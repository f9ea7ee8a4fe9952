using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Chat.Api.Tests.Infrastructure;
using Chat.Llm.Tests.Infrastructure;

namespace Chat.Api.Tests;

/// <summary>
/// A non-stream <c>/v1/chat/completions</c> whose reply outlasts <c>Messages:SyncReplyTimeout</c> (200 ms here, against a
/// local model whose first token comes after a minute) gets a defined OpenAI error, never a 500.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class OpenAiReplyTimeoutTests(RedisServerFixture redis) : IAsyncLifetime
{
    private ApiHost _host = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        var config = TestConfig.Fast();
        config["Messages:SyncReplyTimeout"] = "00:00:00.200";
        config["Llm:Local:TimeToFirstTokenMs"] = "60000";
        config["Llm:Timeouts:FirstToken"] = "00:02:00";
        config["Llm:Timeouts:Total"] = "00:05:00";
        _host = await ApiHost.StartAsync(redis.Redis, config);
        _http = new HttpClient { BaseAddress = _host.BaseUri, Timeout = TimeSpan.FromSeconds(30) };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _host.DisposeAsync();
    }

    [Fact]
    public async Task WaitTimeoutAnswers504ReplyTimeoutWithTheGenerationToFollow()
    {
        using var response = await _http.PostAsJsonAsync("v1/chat/completions", new
        {
            model = "chat-dev",
            messages = new[] { new { role = "user", content = "take your time" } },
        });

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("reply_timeout", error.GetProperty("code").GetString());
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        var generationId = Guid.Parse(response.Headers.GetValues("X-Generation-Id").Single());
        Assert.Equal($"/api/v1/generations/{generationId:D}", response.Headers.Location?.OriginalString);
        Assert.Equal("false", response.Headers.GetValues("x-should-retry").Single());
    }
}
