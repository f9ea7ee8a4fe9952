using System.Collections.Concurrent;
using System.Text;
using Chat.Llm.Diagnostics;
using Chat.Llm.Options;
using Microsoft.Extensions.Options;

namespace Chat.Llm.Generation;

/// <summary>
/// The generations this process owns, from the moment they are queued until their runner ends: what
/// <see cref="GenerationLeaseKeeper"/> renews and checkpoints. Queued jobs are in it too, since their messages are
/// stored (and leased) before a worker slot frees up.
/// </summary>
public sealed class GenerationLeases(IOptions<LlmOptions> options, GenerationMetrics metrics, TimeProvider time)
{
    private readonly ConcurrentDictionary<Guid, LeasedGeneration> _active = new();
    private readonly TimeSpan _duration = options.Value.Generation.LeaseDuration;

    public int Count => _active.Count;

    /// <summary>The generation's lease handle, created on first call (when it is queued).</summary>
    public LeasedGeneration Track(GenerationJob job)
    {
        if (_active.TryGetValue(job.GenerationId, out var known))
        {
            return known;
        }

        var lease = new LeasedGeneration(job, this);
        if (!_active.TryAdd(job.GenerationId, lease))
        {
            return _active[job.GenerationId];
        }

        metrics.Started();
        return lease;
    }

    public bool TryGet(Guid generationId, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out LeasedGeneration lease) =>
        _active.TryGetValue(generationId, out lease);

    /// <summary>Stops renewing it: its runner ended, or it was never stored.</summary>
    public void Release(LeasedGeneration lease)
    {
        if (_active.TryRemove(new KeyValuePair<Guid, LeasedGeneration>(lease.GenerationId, lease)))
        {
            metrics.Released();
            lease.Dispose();
        }
    }

    internal ICollection<LeasedGeneration> Active => _active.Values;

    internal TimeProvider Time => time;

    internal TimeSpan Duration => _duration;
}

/// <summary>
/// One owned generation: its text so far (the runner appends, the keeper checkpoints), when its lease runs out as far
/// as this process knows, and a token cancelled when the database says the lease is no longer ours.
/// </summary>
public sealed class LeasedGeneration : IDisposable
{
    private readonly Lock _gate = new();
    private readonly StringBuilder _text = new();
    private readonly CancellationTokenSource _lost = new();
    private readonly GenerationLeases _leases;
    private long _chunks;
    private long _checkpointed;
    private long _deadline;

    internal LeasedGeneration(GenerationJob job, GenerationLeases leases)
    {
        _leases = leases;
        GenerationId = job.GenerationId;
        AssistantMessageId = job.AssistantMessageId;
        Persisted = job.Persisted;
        // The insert leased the row for LeaseDuration from about now.
        _deadline = leases.Time.GetTimestamp() + (long)(leases.Duration.TotalSeconds * leases.Time.TimestampFrequency);
    }

    public Guid GenerationId { get; }

    public Guid AssistantMessageId { get; }

    /// <summary>The commit of the job's messages: only a stored row has a lease to renew.</summary>
    internal Task Persisted { get; }

    /// <summary>Cancelled when another process has taken the generation over (or it was ended elsewhere).</summary>
    public CancellationToken Lost => _lost.Token;

    public bool IsLost => _lost.IsCancellationRequested;

    /// <summary>Time left on the lease as this process last renewed it (zero or less: expired for all we know).</summary>
    public TimeSpan Remaining => _leases.Time.GetElapsedTime(Volatile.Read(ref _deadline)).Negate();

    /// <summary>Appends one chunk's text; returns the number of chunks so far.</summary>
    public long Append(string delta)
    {
        lock (_gate)
        {
            _text.Append(delta);
            return ++_chunks;
        }
    }

    public string Text
    {
        get
        {
            lock (_gate)
            {
                return _text.ToString();
            }
        }
    }

    public long Chunks
    {
        get
        {
            lock (_gate)
            {
                return _chunks;
            }
        }
    }

    /// <summary>The text to checkpoint, if it grew since the last one the database accepted.</summary>
    internal LeaseRenewal Renewal()
    {
        lock (_gate)
        {
            return _chunks == _checkpointed
                ? new LeaseRenewal(AssistantMessageId, null, _chunks)
                : new LeaseRenewal(AssistantMessageId, _text.ToString(), _chunks);
        }
    }

    /// <summary>The database renewed the lease (and stored <paramref name="renewal"/>'s checkpoint) as of <paramref name="sentAt"/>.</summary>
    internal void Renewed(LeaseRenewal renewal, long sentAt)
    {
        Volatile.Write(ref _deadline, sentAt + (long)(_leases.Duration.TotalSeconds * _leases.Time.TimestampFrequency));
        if (renewal.Text is not null)
        {
            lock (_gate)
            {
                _checkpointed = Math.Max(_checkpointed, renewal.Chunks);
            }
        }
    }

    /// <summary>The lease is someone else's now: the runner stops without writing anything more.</summary>
    public void Lose()
    {
        try
        {
            _lost.Cancel();
        }
        catch (AggregateException)
        {
            // A callback threw; the token is cancelled all the same.
        }
        catch (ObjectDisposedException)
        {
            // Released meanwhile: nothing runs any more.
        }
    }

    public void Dispose() => _lost.Dispose();
}
