using System.Text.Json;

namespace Chat.Streaming.Tests;

/// <summary>Client frames through a whole connection: each type reaches its handler, and the rate limit drops then closes.</summary>
public sealed class ClientFrameDispatcherTests : IDisposable
{
    private readonly TestConnections _connections = new();

    public void Dispose() => _connections.Dispose();

    [Fact]
    public async Task APingIsAnsweredWithAPongCarryingItsId()
    {
        var socket = new ScriptedWebSocket();
        using var connection = _connections.Create(socket);
        var run = connection.RunAsync();

        socket.PeerSends("""{"type":"ping","id":"p1"}""");
        await TestConnections.WaitUntilAsync(() => socket.Sent.Count == 2);

        var pong = Parse(socket.Sent[1]);
        Assert.Equal("pong", pong.GetProperty("type").GetString());
        Assert.Equal("p1", pong.GetProperty("id").GetString());
        socket.PeerCloses();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task BinaryFramesAndUnknownTypesAreRefusedWithTheirCodes()
    {
        var socket = new ScriptedWebSocket();
        using var connection = _connections.Create(socket);
        var run = connection.RunAsync();

        socket.PeerSendsBinary([1, 2, 3]);
        socket.PeerSends("""{"type":"dance","id":"d1"}""");
        await TestConnections.WaitUntilAsync(() => socket.Sent.Count == 3);

        Assert.Equal(["binary_not_supported", "unknown_type"], socket.Sent.Skip(1).Select(f => Parse(f).GetProperty("code").GetString()));
        socket.PeerCloses();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task FramesOverTheRateLimitAreDroppedTheFirstIsExplainedAndAFloodClosesWith1008()
    {
        const int Burst = 3;
        const int MaxViolations = 4;
        var socket = new ScriptedWebSocket();
        using var connection = _connections.Create(socket, o =>
        {
            o.RateLimitBurst = Burst;
            o.RateLimitPerSecond = 1;
            o.MaxRateViolations = MaxViolations;
        });
        var run = connection.RunAsync();

        for (var i = 0; i < Burst + MaxViolations + 2; i++) // two spare, should a token come back meanwhile
        {
            socket.PeerSends($$"""{"type":"ping","id":"{{i}}"}""");
        }
        await run.WaitAsync(TimeSpan.FromSeconds(10)); // the flood's close is not answered: the abort timer ends it

        var sent = socket.Sent.Skip(1).Select(Parse).ToList();
        var pongs = sent.Count(f => f.GetProperty("type").GetString() == "pong");
        Assert.InRange(pongs, Burst, Burst + 2); // a token comes back each second, which a loaded machine may take
        var errors = sent.Where(f => f.GetProperty("type").GetString() == "error").Select(f => f.GetProperty("message").GetString()).ToList();
        Assert.Equal(2, errors.Count);
        Assert.StartsWith("Too many frames", errors[0], StringComparison.Ordinal);
        Assert.StartsWith("Flood", errors[1], StringComparison.Ordinal);
        Assert.Equal(1008, (int?)socket.SentCloseStatus);
    }

    private static JsonElement Parse(string frame)
    {
        using var json = JsonDocument.Parse(frame);
        return json.RootElement.Clone();
    }
}
