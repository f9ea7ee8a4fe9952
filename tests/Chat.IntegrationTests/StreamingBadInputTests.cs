using System.Net;
using System.Net.WebSockets;

namespace Chat.IntegrationTests;

/// <summary>Every bad input gets its documented answer (docs/PROTOCOL.md), and other connections never notice.</summary>
[Collection(StreamingAppCollection.Name)]
public sealed class StreamingBadInputTests(StreamingAppFixture fixture)
{
    private static string Token() => TestTokens.Create("mallory", $"t-{Guid.NewGuid():N}");

    [Theory]
    [InlineData("{not json", null, "invalid_json")]
    [InlineData("", null, "invalid_json")]
    [InlineData("[1,2,3]", null, "invalid_frame")]
    [InlineData("""{"id":"a1"}""", "a1", "invalid_frame")]
    [InlineData("""{"type":"teleport","id":"a2"}""", "a2", "unknown_type")]
    [InlineData("""{"type":"subscribe","id":"a3"}""", "a3", "invalid_frame")]
    [InlineData("""{"type":"subscribe","id":"a4","conversationId":"nope"}""", "a4", "invalid_frame")]
    [InlineData("""{"type":"subscribe","id":"a5","conversationId":"0b5d1c1e-8a5e-4f57-9d7c-3c1b8d7a9e01","after":3}""", "a5", "invalid_frame")]
    [InlineData("""{"type":"message.send","id":"a6","conversationId":"0b5d1c1e-8a5e-4f57-9d7c-3c1b8d7a9e01","content":"hi"}""", "a6", "invalid_frame")]
    [InlineData("""{"type":"message.send","id":"a7","conversationId":"0b5d1c1e-8a5e-4f57-9d7c-3c1b8d7a9e01","content":42,"clientMessageId":"c"}""", "a7", "invalid_frame")]
    [InlineData("""{"type":"generation.cancel","id":"a8"}""", "a8", "invalid_frame")]
    [InlineData("""{"type":"unsubscribe","id":"a9","conversationId":"0b5d1c1e-8a5e-4f57-9d7c-3c1b8d7a9e01"}""", "a9", "not_subscribed")]
    public async Task BadFrameGetsAnErrorFrameAndTheConnectionKeepsWorking(string raw, string? id, string code)
    {
        await using var client = await fixture.ConnectAsync(Token());
        await client.SendRawAsync(raw);
        var error = await client.NextAsync("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        if (id is not null)
        {
            Assert.Equal(id, error.GetProperty("id").GetString());
        }
        Assert.Empty(await client.PingAsync());
    }

    [Fact]
    public async Task LongAndFragmentedFramesAreReassembled()
    {
        // The reader waits with a zero-byte receive and reads into a 2 KiB buffer: a frame longer than that, sent in
        // WebSocket fragments of every size, must arrive whole, and the frames after it too.
        await using var client = await fixture.ConnectAsync(Token());
        var bytes = System.Text.Encoding.UTF8.GetBytes($$"""{"type":"ping","id":"long","pad":"{{new string('x', 5000)}}"}""");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var offset = 0;
        foreach (var size in new[] { 0, 1, 700, 2048, 1500 })
        {
            await client.Socket.SendAsync(bytes.AsMemory(offset, size), WebSocketMessageType.Text, endOfMessage: false, cts.Token);
            offset += size;
        }
        await client.Socket.SendAsync(bytes.AsMemory(offset), WebSocketMessageType.Text, endOfMessage: true, cts.Token);

        var pong = await client.NextAsync("pong");
        Assert.Equal("long", pong.GetProperty("id").GetString());
        Assert.Empty(await client.PingAsync("short"));
    }

    [Fact]
    public async Task BinaryFrameGetsBinaryNotSupported()
    {
        await using var client = await fixture.ConnectAsync(Token());
        await client.SendRawAsync("""{"type":"ping"}""", WebSocketMessageType.Binary);
        Assert.Equal("binary_not_supported", (await client.NextAsync("error")).GetProperty("code").GetString());
        Assert.Empty(await client.PingAsync());
    }

    [Fact]
    public async Task OversizeFrameClosesWith1009AndOtherConnectionsKeepWorking()
    {
        await using var bystander = await fixture.ConnectAsync(Token());
        await using var client = await fixture.ConnectAsync(Token());
        var max = client.Hello.GetProperty("maxFrameBytes").GetInt32();
        await client.SendRawAsync($$"""{"type":"ping","pad":"{{new string('x', max + 10)}}"}""");
        Assert.Equal("invalid_frame", (await client.NextAsync("error")).GetProperty("code").GetString());
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await client.WaitClosedAsync());
        Assert.Empty(await bystander.PingAsync());
    }

    [Fact]
    public async Task FloodGetsRateLimitedThenClosesWith1008AndOtherConnectionsKeepWorking()
    {
        await using var bystander = await fixture.ConnectAsync(Token());
        await using var client = await fixture.ConnectAsync(Token());
        try
        {
            for (var i = 0; i < 500 && client.Socket.State == WebSocketState.Open; i++)
            {
                await client.SendRawAsync($$"""{"type":"ping","id":"f{{i}}"}""");
            }
        }
        catch (WebSocketException)
        {
            // The server closed on us mid-flood: that is the point.
        }
        var limited = await client.WaitForAsync(f => f.GetProperty("type").GetString() == "error");
        Assert.Equal("rate_limited", limited.GetProperty("code").GetString());
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.WaitClosedAsync());
        Assert.Empty(await bystander.PingAsync());
    }

    [Fact]
    public async Task ConnectThroughTheGatewayWithoutAValidTokenIsRefusedWith401()
    {
        var forged = TestTokens.Create("mallory", "t", signingKey: "another-signing-key-0123456789abcdefghijklmnopqrstu");
        foreach (var token in new[] { null, forged })
        {
            var error = await Assert.ThrowsAsync<WebSocketException>(() => StreamingTestClient.ConnectAsync(fixture.GatewayUri, token));
            Assert.Contains("401", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ConnectToTheServiceWithoutATokenGetsUnauthorizedAndClose4401()
    {
        // Behind the gateway too, the service refuses by itself (and browsers see a close code, not an HTTP status).
        await using var client = await StreamingTestClient.ConnectAsync(fixture.StreamingUri, token: null);
        Assert.Equal("unauthorized", (await client.NextAsync("error")).GetProperty("code").GetString());
        Assert.Equal((WebSocketCloseStatus)4401, await client.WaitClosedAsync());
    }

    [Fact]
    public async Task ConnectToTheServiceWithABadSignatureGetsClose4401()
    {
        var forged = TestTokens.Create("mallory", "t", signingKey: "another-signing-key-0123456789abcdefghijklmnopqrstu");
        await using var client = await StreamingTestClient.ConnectAsync(fixture.StreamingUri, forged);
        Assert.Equal("unauthorized", (await client.NextAsync("error")).GetProperty("code").GetString());
        Assert.Equal((WebSocketCloseStatus)4401, await client.WaitClosedAsync());
    }

    [Fact]
    public async Task ConnectWithATokenNamingTwoTenantsIsRefused()
    {
        var token = TestTokens.CreateEdited("mallory", "t1",
            p => p.Replace("\"tenant_id\":\"t1\"", "\"tenant_id\":[\"t1\",\"t2\"]", StringComparison.Ordinal));

        // At the service itself: accepted as a socket, told why, closed with 4401 (not served as tenant t1).
        await using (var client = await StreamingTestClient.ConnectAsync(fixture.StreamingUri, token))
        {
            Assert.Equal("unauthorized", (await client.NextAsync("error")).GetProperty("code").GetString());
            Assert.Equal((WebSocketCloseStatus)4401, await client.WaitClosedAsync());
        }

        // Through the gateway, which refuses the handshake itself.
        var error = await Assert.ThrowsAsync<WebSocketException>(() => StreamingTestClient.ConnectAsync(fixture.GatewayUri, token));
        Assert.Contains("401", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectWithoutTheReadScopeGetsClose4403()
    {
        await using var client = await StreamingTestClient.ConnectAsync(fixture.GatewayUri, TestTokens.Create("mallory", "t", scopes: "chat.write"));
        Assert.Equal("forbidden", (await client.NextAsync("error")).GetProperty("code").GetString());
        Assert.Equal((WebSocketCloseStatus)4403, await client.WaitClosedAsync());
    }

    [Fact]
    public async Task TokenThatExpiresDuringTheConnectionClosesItWith4401()
    {
        await using var client = await StreamingTestClient.ConnectAsync(
            fixture.GatewayUri, TestTokens.Create("mallory", "t", lifetime: TimeSpan.FromSeconds(10)), tokenInQuery: false);
        Assert.Empty(await client.PingAsync());
        // Heartbeats may come first; the expiry is told in an error frame, then the close.
        var error = await client.NextAsync("error", TimeSpan.FromSeconds(30));
        Assert.Equal("token_expired", error.GetProperty("code").GetString());
        Assert.Equal((WebSocketCloseStatus)4401, await client.WaitClosedAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("token_expired", client.Socket.CloseStatusDescription);
    }

    [Fact]
    public async Task PlainHttpAndForeignSubprotocolsAreRefused()
    {
        using var http = new HttpClient { BaseAddress = fixture.GatewayUri };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token());
        using var plain = await http.GetAsync("/ws");
        Assert.Equal(HttpStatusCode.UpgradeRequired, plain.StatusCode);

        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("chat.v0");
        using var cts = new CancellationTokenSource(ChatAppFixture.StepTimeout);
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(StreamingTestClient.WsUri(fixture.GatewayUri, Token()), cts.Token));
    }
}
