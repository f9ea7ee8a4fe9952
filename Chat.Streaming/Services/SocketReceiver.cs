using System.Buffers;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;

namespace Chat.Streaming.Services;

/// <summary>What a <see cref="SocketReceiver"/> hands whole client frames to.</summary>
public interface IReceiveTarget
{
    /// <summary>True once the connection is closing: frames are then read and ignored until the peer answers the close.</summary>
    bool IsClosing { get; }

    /// <summary>The peer sent its close frame.</summary>
    void OnPeerClosed();

    /// <summary>A frame longer than the limit began; the rest of it is read and dropped.</summary>
    void OnFrameTooBig();

    /// <summary>One whole frame; its bytes are valid until the returned task completes.</summary>
    Task OnFrameAsync(WebSocketMessageType type, ReadOnlyMemory<byte> frame);
}

/// <summary>
/// A socket's reading side: reads whole client frames, one at a time, and hands each to its target. An idle socket holds
/// no receive buffer: the reader waits for the next frame with a zero-byte receive (as SignalR's WebSocket transport
/// does), then rents a small buffer until the frame is read. Client frames are a few hundred bytes; a longer one is read
/// in pieces into a message buffer, made for the first such frame, since a receive buffer held per socket would be a
/// large share of an idle connection's memory.
/// </summary>
public static class SocketReceiver
{
    private const int BufferBytes = 2 * 1024;

    /// <summary>Reads until the peer closes (or the socket fails, which throws).</summary>
    public static async Task RunAsync(WebSocket socket, int maxFrameBytes, IReceiveTarget target)
    {
        ArrayBufferWriter<byte>? pieces = null;
        while (true)
        {
            var first = await socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
            if (first.MessageType == WebSocketMessageType.Close)
            {
                target.OnPeerClosed();
                return;
            }

            var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(maxFrameBytes, BufferBytes));
            try
            {
                pieces?.Clear();
                var read = await ReadFrameAsync(socket, first, buffer, maxFrameBytes, target, pieces);
                pieces = read.Pieces;
                if (read.Closed)
                {
                    target.OnPeerClosed();
                    return;
                }
                if (target.IsClosing || read.TooBig)
                {
                    continue; // closing: read until the peer answers the close, ignore what it sends
                }
                ReadOnlyMemory<byte> frame = buffer.AsMemory(0, read.Length);
                if (pieces is { WrittenCount: > 0 })
                {
                    pieces.Write(frame.Span);
                    frame = pieces.WrittenMemory;
                }
                await target.OnFrameAsync(read.Type, frame);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// Reads the rest of the frame whose first receive was <paramref name="result"/>. A zero-byte receive that ends the
    /// message was an empty frame: nothing more to read for it. The frame is what <see cref="FrameRead.Pieces"/> holds,
    /// then the buffer's first <see cref="FrameRead.Length"/> bytes. Pooled: a frame read asynchronously allocates nothing.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<FrameRead> ReadFrameAsync(
        WebSocket socket, ValueWebSocketReceiveResult result, byte[] buffer, int maxFrameBytes, IReceiveTarget target, ArrayBufferWriter<byte>? pieces)
    {
        var length = 0;
        var tooBig = false;
        while (!result.EndOfMessage)
        {
            if (length == buffer.Length)
            {
                // Longer than the buffer: its bytes move to the message buffer, made for the first such frame.
                (pieces ??= new ArrayBufferWriter<byte>(2 * buffer.Length)).Write(buffer);
                length = 0;
            }
            result = await socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return new FrameRead(0, result.MessageType, TooBig: false, Closed: true, pieces);
            }
            length += result.Count;
            if (!tooBig && (pieces?.WrittenCount ?? 0) + length > maxFrameBytes)
            {
                target.OnFrameTooBig();
                tooBig = true;
            }
            if (tooBig)
            {
                // The rest of the frame is read and dropped.
                pieces?.Clear();
                length = 0;
            }
        }
        return new FrameRead(length, result.MessageType, tooBig, Closed: false, pieces);
    }

    private readonly record struct FrameRead(int Length, WebSocketMessageType Type, bool TooBig, bool Closed, ArrayBufferWriter<byte>? Pieces);
}
