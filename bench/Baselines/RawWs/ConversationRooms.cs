using System.Collections.Concurrent;
using StackExchange.Redis;

namespace Chat.Bench.Baselines.RawWs;

/// <summary>A socket's outgoing queue as the rooms see it.</summary>
public interface IFrameSink
{
    /// <summary>Queues one frame; false when the socket is too slow (its queue is full).</summary>
    bool TryEnqueue(ReadOnlyMemory<byte> frame);
}

/// <summary>One Redis subscription per conversation with at least one socket, fanned out to those sockets.</summary>
public sealed class ConversationRooms(IConnectionMultiplexer redis)
{
    private readonly ConcurrentDictionary<string, Room> _rooms = new(StringComparer.Ordinal);

    public async Task JoinAsync(string channel, IFrameSink sink)
    {
        while (true)
        {
            var room = _rooms.GetOrAdd(channel, c => new Room(c));
            if (await room.AddAsync(redis.GetSubscriber(), sink))
            {
                return;
            }
            // The room closed between lookup and join: its entry is gone, take a fresh one.
        }
    }

    public async Task LeaveAsync(string channel, IFrameSink sink)
    {
        if (_rooms.TryGetValue(channel, out var room) && await room.RemoveAsync(sink))
        {
            _rooms.TryRemove(new KeyValuePair<string, Room>(channel, room));
        }
    }

    // A SemaphoreSlim whose wait handle is never asked for holds nothing that needs disposing.
#pragma warning disable CA1001
    private sealed class Room(string channel)
#pragma warning restore CA1001
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private IFrameSink[] _sinks = [];
        private ChannelMessageQueue? _queue;
        private bool _closed;

        public async Task<bool> AddAsync(ISubscriber subscriber, IFrameSink sink)
        {
            await _gate.WaitAsync();
            try
            {
                if (_closed)
                {
                    return false;
                }
                if (_queue is null)
                {
                    _queue = await subscriber.SubscribeAsync(RedisChannel.Literal(channel));
                    // OnMessage handles messages one at a time, in publish order.
                    _queue.OnMessage(Forward);
                }
                _sinks = [.. _sinks, sink];
                return true;
            }
            finally
            {
                _gate.Release();
            }
        }

        /// <summary>Removes the sink; true when the room is now empty and closed.</summary>
        public async Task<bool> RemoveAsync(IFrameSink sink)
        {
            await _gate.WaitAsync();
            try
            {
                _sinks = Array.FindAll(_sinks, s => !ReferenceEquals(s, sink));
                if (_sinks.Length > 0 || _closed)
                {
                    return false;
                }
                _closed = true;
                if (_queue is not null)
                {
                    await _queue.UnsubscribeAsync();
                }
                return true;
            }
            finally
            {
                _gate.Release();
            }
        }

        private void Forward(ChannelMessage message)
        {
            ReadOnlyMemory<byte> frame = (byte[])message.Message!;
            foreach (var sink in Volatile.Read(ref _sinks))
            {
                sink.TryEnqueue(frame);
            }
        }
    }
}
