using System.Diagnostics;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Xunit.Abstractions;

namespace Chat.IntegrationTests;

/// <summary>Heartbeats, dead peers and slow consumers (the fixture runs the replicas with 2 s heartbeats and a 256-frame queue).</summary>
[Collection(StreamingAppCollection.Name)]
public sealed class StreamingLivenessTests(StreamingAppFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task IdleConnectionReceivesProtocolHeartbeats()
    {
        await using var client = await fixture.ConnectAsync(TestTokens.Create("hb", "t"));
        Assert.Equal(StreamingAppFixture.HeartbeatInterval.TotalSeconds, client.Hello.GetProperty("heartbeatSeconds").GetDouble());
        var heartbeat = await client.WaitForAsync(f => f.GetProperty("type").GetString() == "heartbeat", StreamingAppFixture.HeartbeatInterval * 3);
        Assert.True(heartbeat.GetProperty("ts").GetInt64() > 0);
    }

    [Fact]
    public async Task PeerThatNeverAnswersPingsIsClosedWithinHeartbeatPlusIdleTimeout()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(fixture.GatewayUri.Host, fixture.GatewayUri.Port);
        var stream = tcp.GetStream();
        var token = TestTokens.Create("ghost", "t");
        var upgrade = $"GET /ws?access_token={Uri.EscapeDataString(token)} HTTP/1.1\r\nHost: {fixture.GatewayUri.Authority}\r\n" +
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
            "Sec-WebSocket-Protocol: chat.v1\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(upgrade));

        // Read (so the server is not merely blocked on a full buffer) but never answer a PING with a PONG.
        var clock = Stopwatch.StartNew();
        var buffer = new byte[16 * 1024];
        var head = new StringBuilder();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (true)
            {
                var read = await stream.ReadAsync(buffer, cts.Token);
                if (read == 0)
                {
                    break;
                }
                if (head.Length < 12)
                {
                    head.Append(Encoding.ASCII.GetString(buffer, 0, read));
                }
            }
        }
        catch (IOException)
        {
            // reset by the peer: also closed
        }
        var limit = StreamingAppFixture.HeartbeatInterval + StreamingAppFixture.IdleTimeout + TimeSpan.FromSeconds(3);
        output.WriteLine($"dead peer closed after {clock.Elapsed.TotalSeconds:F1}s (limit {limit.TotalSeconds}s)");
        Assert.StartsWith("HTTP/1.1 101", head.ToString(), StringComparison.Ordinal);
        Assert.True(clock.Elapsed < limit, $"closed after {clock.Elapsed}, documented limit {limit}");
        Assert.True(clock.Elapsed >= StreamingAppFixture.IdleTimeout, "closed only after the PONG was late");
    }

    [Fact(Skip = "Flaky on a loaded machine, open with issue 5: in 2 of 8 full CI runs on 2026-11-27 either the reading socket was also dropped or the non-reading one was not closed within 60 s. Likely the same send-queue defect as the token-expiry test; see the closing note.")]
    public async Task SlowConsumerIsDroppedWithoutDelayingOtherSockets()
    {
        var (tenant, user) = ($"t-{Guid.NewGuid():N}", "slowpoke");
        var token = TestTokens.Create(user, tenant);
        var conversationId = fixture.Api.AddConversation(tenant, user);
        const int chunks = 3000;

        await using var fast = await fixture.ConnectAsync(token);
        await fast.SendAsync(new { type = "subscribe", conversationId });
        await fast.NextAsync("subscribed");

        // The slow client subscribes, then stops reading.
        using var slow = new ClientWebSocket();
        slow.Options.AddSubProtocol("chat.v1");
        using var connect = new CancellationTokenSource(ChatAppFixture.StepTimeout);
        await slow.ConnectAsync(StreamingTestClient.WsUri(fixture.GatewayUri, token), connect.Token);
        await slow.SendAsync(Encoding.UTF8.GetBytes($$"""{"type":"subscribe","conversationId":"{{conversationId}}"}"""), WebSocketMessageType.Text, true, connect.Token);
        var buffer = new byte[64 * 1024];
        var received = new StringBuilder();
        while (!received.ToString().Contains("\"subscribed\"", StringComparison.Ordinal))
        {
            var r = await slow.ReceiveAsync(buffer, connect.Token);
            received.Append(Encoding.UTF8.GetString(buffer, 0, r.Count));
        }

        var generationId = Guid.CreateVersion7();
        var messageId = Guid.CreateVersion7();
        var pad = new string('x', 16 * 1024);
        var clock = Stopwatch.StartNew();
        var reader = fast.ReadGenerationAsync(generationId, TimeSpan.FromSeconds(90));
        await fixture.Generations.PublishAsync(StreamingGenerations.Started(conversationId, generationId, messageId));
        for (var seq = 1; seq <= chunks; seq++)
        {
            await fixture.Generations.PublishAsync(StreamingGenerations.Chunk(conversationId, generationId, seq) with { Delta = pad });
            if (seq % 25 == 0)
            {
                // Paced like a fast model rather than one 48 MB burst, so a client that reads keeps up even on a
                // loaded CI machine; the one that never reads still overflows (far more than socket buffers hold).
                await Task.Delay(5);
            }
        }
        await fixture.Generations.PublishAsync(StreamingGenerations.Completed(conversationId, generationId, messageId, chunks + 1));
        var frames = await reader;
        output.WriteLine($"fast socket got {frames.Count} frames of 16 KiB in {clock.Elapsed.TotalSeconds:F1}s");
        Assert.Equal(Enumerable.Range(0, chunks + 2).Select(i => (long)i), frames.Select(f => f.GetProperty("seq").GetInt64()));

        // The slow socket was cut off: it ends with 4008 (or, having stalled past the close timeout, an abort).
        var slowFrames = 0;
        using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            while (true)
            {
                var r = await slow.ReceiveAsync(buffer, drain.Token);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                slowFrames += r.EndOfMessage ? 1 : 0;
            }
        }
        catch (WebSocketException)
        {
        }
        output.WriteLine($"slow socket: {slowFrames} frames, then {slow.CloseStatus?.ToString() ?? "abort"}");
        Assert.True(slow.CloseStatus is null or (WebSocketCloseStatus)4008, $"close status {slow.CloseStatus}");
        Assert.True(slowFrames < chunks + 2, "the slow socket did not get the whole generation");
    }
}
