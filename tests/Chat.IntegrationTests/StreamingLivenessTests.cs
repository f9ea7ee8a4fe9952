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

    [Fact]
    public async Task SlowConsumerIsDroppedWithoutDelayingOtherSockets()
    {
        var (tenant, user) = ($"t-{Guid.NewGuid():N}", "slowpoke");
        var token = TestTokens.Create(user, tenant);
        var conversationId = fixture.Api.AddConversation(tenant, user);
        const int chunks = 4000;

        await using var fast = await fixture.ConnectAsync(token);
        await fast.SendAsync(new { type = "subscribe", conversationId });
        await fast.NextAsync("subscribed");

        // The slow client subscribes, then stops reading. Its socket's receive buffer is pinned small: loopback TCP
        // autotuning can otherwise grow buffers to tens of MB and swallow the whole generation without any overflow.
        using var slow = await ConnectWithSmallReceiveBufferAsync(token);
        using var connect = new CancellationTokenSource(ChatAppFixture.StepTimeout);
        await slow.SendAsync(Encoding.UTF8.GetBytes($$"""{"type":"subscribe","conversationId":"{{conversationId}}"}"""), WebSocketMessageType.Text, true, connect.Token);
        var buffer = new byte[64 * 1024];
        var received = new StringBuilder();
        while (!received.ToString().Contains("\"subscribed\"", StringComparison.Ordinal))
        {
            var r = await slow.ReceiveAsync(buffer, connect.Token);
            received.Append(Encoding.UTF8.GetString(buffer, 0, r.Count));
        }

        // 4,000 frames of 16 KiB (64 MB), published no faster than the reading socket takes them (at most 64 frames
        // ahead, far below its 256-frame queue): whatever the machine's load, a client that keeps up must never be
        // dropped, and the one that does not read falls ever further behind until its queue overflows.
        var generationId = Guid.CreateVersion7();
        var messageId = Guid.CreateVersion7();
        var pad = new string('x', 16 * 1024);
        var clock = Stopwatch.StartNew();
        long fastSeq = -1;
        var reader = fast.ReadGenerationAsync(generationId, TimeSpan.FromSeconds(120), seq => Volatile.Write(ref fastSeq, seq));
        await fixture.Generations.PublishAsync(StreamingGenerations.Started(conversationId, generationId, messageId));
        for (var seq = 1; seq <= chunks; seq++)
        {
            while (seq - Volatile.Read(ref fastSeq) > 64 && !reader.IsCompleted)
            {
                await Task.Delay(1); // paces the publisher on purpose: polls how far the reading socket has got
            }
            await fixture.Generations.PublishAsync(StreamingGenerations.Chunk(conversationId, generationId, seq) with { Delta = pad });
        }
        await fixture.Generations.PublishAsync(StreamingGenerations.Completed(conversationId, generationId, messageId, chunks + 1));
        var frames = await reader;
        output.WriteLine($"fast socket got {frames.Count} frames of 16 KiB in {clock.Elapsed.TotalSeconds:F1}s");
        Assert.Equal(Enumerable.Range(0, chunks + 2).Select(i => (long)i), frames.Select(f => f.GetProperty("seq").GetInt64()));

        // The slow socket was cut off: it ends with 4008, or (having stalled past the close timeout) an abort.
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
        catch (Exception ex) when (ex is WebSocketException or IOException)
        {
        }
        output.WriteLine($"slow socket: {slowFrames} frames, then {slow.CloseStatus?.ToString() ?? "abort"} after {clock.Elapsed.TotalSeconds:F1}s");
        Assert.True(slow.CloseStatus is null or (WebSocketCloseStatus)4008, $"close status {slow.CloseStatus}");
        Assert.True(slowFrames < chunks + 2, "the slow socket did not get the whole generation");
    }

    /// <summary>A chat.v1 client over a TCP socket whose receive buffer is fixed at 16 KiB (which disables autotuning).</summary>
    private async Task<WebSocket> ConnectWithSmallReceiveBufferAsync(string token)
    {
        var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 16 * 1024 };
        await tcp.ConnectAsync(fixture.GatewayUri.Host, fixture.GatewayUri.Port);
        var stream = new NetworkStream(tcp, ownsSocket: true);
        var upgrade = $"GET /ws?access_token={Uri.EscapeDataString(token)} HTTP/1.1\r\nHost: {fixture.GatewayUri.Authority}\r\n" +
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
            "Sec-WebSocket-Protocol: chat.v1\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(upgrade));
        // Read the response head byte by byte, so not one byte of the first frame is consumed with it.
        var head = new StringBuilder();
        var one = new byte[1];
        using var cts = new CancellationTokenSource(ChatAppFixture.StepTimeout);
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one, cts.Token) == 0)
            {
                throw new IOException($"closed during the upgrade: {head}");
            }
            head.Append((char)one[0]);
        }
        Assert.StartsWith("HTTP/1.1 101", head.ToString(), StringComparison.Ordinal);
        return WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { SubProtocol = "chat.v1", KeepAliveInterval = TimeSpan.Zero });
    }
}
