namespace Chat.Llm.Generation;

/// <summary>The frames of one generation in send order, as (seq, JSON), by position; keeps the last
/// <c>capacity</c> in a ring that grows by doubling.</summary>
internal sealed class FrameJournal(int capacity)
{
    private (long Seq, string Json)[] _ring = new (long, string)[Math.Min(capacity, 64)];
    private int _head;

    /// <summary>Position of the oldest frame kept.</summary>
    public long First { get; private set; }

    /// <summary>Position after the newest frame (the number of frames added).</summary>
    public long End { get; private set; }

    public (long Seq, string Json) this[long position] => _ring[(int)((_head + (position - First)) % _ring.Length)];

    public void Add(long seq, string json)
    {
        var count = (int)(End - First);
        if (count == _ring.Length)
        {
            if (_ring.Length < capacity)
            {
                var grown = new (long, string)[Math.Min(capacity, _ring.Length * 2)];
                for (var i = 0; i < count; i++)
                {
                    grown[i] = _ring[(_head + i) % _ring.Length];
                }

                _ring = grown;
                _head = 0;
            }
            else
            {
                _ring[_head] = default;
                _head = (_head + 1) % _ring.Length;
                First++;
                count--;
            }
        }

        _ring[(_head + count) % _ring.Length] = (seq, json);
        End++;
    }

    /// <summary>A copy of the <paramref name="count"/> frames from <paramref name="from"/>, to write outside the lock.</summary>
    public (long Seq, string Json)[] Copy(long from, long count)
    {
        var frames = new (long, string)[Math.Max(0, count)];
        for (var i = 0; i < frames.Length; i++)
        {
            frames[i] = this[from + i];
        }

        return frames;
    }

    /// <summary>The position of the first frame kept whose seq is greater than <paramref name="seq"/> (End if none).</summary>
    public long PositionAfter(long seq)
    {
        long lo = First, hi = End;
        while (lo < hi)
        {
            var mid = lo + ((hi - lo) / 2);
            if (this[mid].Seq <= seq)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    /// <summary>The position of the frame kept with <paramref name="seq"/>, or -1.</summary>
    public long PositionOf(long seq)
    {
        var after = PositionAfter(seq);
        return after > First && this[after - 1].Seq == seq ? after - 1 : -1;
    }
}
