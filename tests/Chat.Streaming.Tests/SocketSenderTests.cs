using System.Text;
using Chat.Streaming.Services;

namespace Chat.Streaming.Tests;

/// <summary>
/// The sender's rule, without its writer loop running: a frame goes out on the caller's thread while the socket is idle,
/// and is queued while a send is in flight or frames wait; nothing is taken once the socket is closing.
/// </summary>
public sealed class SocketSenderTests : IDisposable
{
    private readonly TestConnections _connections = new();

    public void Dispose() => _connections.Dispose();

    [Fact]
    public void AFrameToAnIdleSocketIsSentOnTheCallersThread()
    {
        var socket = new ScriptedWebSocket();
        using var sender = Create(socket, capacity: 4);

        Assert.True(sender.TrySend(Frame("a")));

        Assert.Equal(["a"], socket.Sent); // sent before TrySend returned: no writer loop runs here
        Assert.Equal(0, sender.Queued);
    }

    [Fact]
    public void FramesBehindASendInFlightAreQueuedInOrderUntilTheQueueIsFull()
    {
        var socket = new ScriptedWebSocket { HoldSends = true };
        using var sender = Create(socket, capacity: 2);

        Assert.True(sender.TrySend(Frame("a"))); // inline, still in flight
        Assert.True(sender.TrySend(Frame("b")));
        Assert.True(sender.TrySend(Frame("c")));
        Assert.False(sender.TrySend(Frame("d"))); // full: the caller's slow-consumer signal

        Assert.Equal(["a"], socket.Sent);
        Assert.Equal(2, sender.Queued);
    }

    [Fact]
    public void AFrameIsQueuedWhileOthersWaitEvenOnceTheSendInFlightHasCompleted()
    {
        var socket = new ScriptedWebSocket { HoldSends = true };
        using var sender = Create(socket, capacity: 4);
        sender.TrySend(Frame("a"));
        sender.TrySend(Frame("b")); // queued behind a
        socket.ReleaseHeldSends();

        Assert.True(sender.TrySend(Frame("c")));

        Assert.Equal(["a"], socket.Sent); // c must not overtake b
        Assert.Equal(2, sender.Queued);
    }

    [Fact]
    public void NothingIsTakenOnceACloseIsRequestedAndOnlyTheFirstCloseCounts()
    {
        var socket = new ScriptedWebSocket();
        using var sender = Create(socket, capacity: 4);

        Assert.True(sender.RequestClose(4008, "slow", drain: false));
        Assert.False(sender.RequestClose(1000, "bye", drain: false));

        Assert.False(sender.TrySend(Frame("a")));
        Assert.Empty(socket.Sent);
        Assert.Equal(new CloseRequest(4008, "slow"), sender.Close);
    }

    [Fact]
    public async Task TheWriterSendsTheQueuedFramesAfterTheSendInFlightThenTheClose()
    {
        var socket = new ScriptedWebSocket { HoldSends = true };
        using var sender = Create(socket, capacity: 4);
        sender.TrySend(Frame("a"));
        sender.TrySend(Frame("b"));
        sender.RequestClose(1000, "bye", drain: true);

        var writer = sender.RunAsync();
        socket.ReleaseHeldSends();
        await writer.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(["a", "b"], socket.Sent);
        Assert.Equal(1000, (int?)socket.SentCloseStatus);
        Assert.False(socket.OverlappingSends);
    }

    private SocketSender Create(ScriptedWebSocket socket, int capacity) =>
        new(socket, capacity, _connections.Telemetry, TimeProvider.System, TimeSpan.FromSeconds(5));

    private static byte[] Frame(string text) => Encoding.UTF8.GetBytes(text);
}
