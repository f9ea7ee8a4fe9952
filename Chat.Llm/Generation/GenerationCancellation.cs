using System.Collections.Concurrent;
using Chat.Llm.Diagnostics;
using Chat.Messaging;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Chat.Llm.Generation;

/// <summary>
/// Cancels a generation wherever it runs. Every process holds ONE subscription to the <see cref="GenerationCancelBus"/>;
/// <see cref="RequestCancelAsync"/> publishes the generation id there, and the process running it cancels its token. A cancel that arrives while the job is still queued is remembered for
/// <see cref="EarlyCancelMemory"/> and applied when it starts.
/// </summary>
public sealed class GenerationCancellation(GenerationCancelBus bus, ILogger<GenerationCancellation> logger) : IHostedService
{
    public static readonly TimeSpan EarlyCancelMemory = TimeSpan.FromMinutes(10);

    private readonly ConcurrentDictionary<Guid, Registration> _running = new();
    private readonly ConcurrentDictionary<Guid, DateTimeOffset> _early = new();
    private IAsyncDisposable? _subscription;

    public async Task StartAsync(CancellationToken cancellationToken) => _subscription = await bus.SubscribeAsync(CancelLocal);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_subscription is not null)
        {
            await _subscription.DisposeAsync();
        }
    }

    /// <summary>Asks every replica (this one included) to cancel <paramref name="generationId"/>.</summary>
    public async Task RequestCancelAsync(Guid generationId)
    {
        CancelLocal(generationId);
        await bus.PublishAsync(generationId);
    }

    public bool IsRunningHere(Guid generationId) => _running.ContainsKey(generationId);

    /// <summary>Called by the runner: a token cancelled by a cancel request, by <paramref name="stopping"/> or by <paramref name="lost"/>.</summary>
    public Registration Register(Guid generationId, CancellationToken stopping, CancellationToken lost = default)
    {
        var registration = new Registration(this, generationId, stopping, lost);
        _running[generationId] = registration;
        var now = DateTimeOffset.UtcNow;
        foreach (var (id, at) in _early)
        {
            if (now - at > EarlyCancelMemory)
            {
                _early.TryRemove(id, out _);
            }
        }

        if (_early.TryRemove(generationId, out _))
        {
            registration.Cancel();
        }

        return registration;
    }

    private void CancelLocal(Guid generationId)
    {
        var here = _running.TryGetValue(generationId, out var registration);
        LlmLog.CancelReceived(logger, generationId, here);
        if (here)
        {
            registration!.Cancel();
        }
        else
        {
            _early[generationId] = DateTimeOffset.UtcNow;
        }
    }

    public sealed class Registration : IDisposable
    {
        private readonly GenerationCancellation _owner;
        private readonly Guid _generationId;
        private readonly CancellationTokenSource _cts;

        internal Registration(GenerationCancellation owner, Guid generationId, CancellationToken stopping, CancellationToken lost)
        {
            _owner = owner;
            _generationId = generationId;
            _cts = CancellationTokenSource.CreateLinkedTokenSource(stopping, lost);
        }

        public CancellationToken Token => _cts.Token;

        /// <summary>True when a cancel request (not shutdown) cancelled the token.</summary>
        public bool CancelRequested { get; private set; }

        internal void Cancel()
        {
            CancelRequested = true;
            try
            {
                _cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Finished meanwhile.
            }
        }

        public void Dispose()
        {
            _owner._running.TryRemove(new KeyValuePair<Guid, Registration>(_generationId, this));
            _cts.Dispose();
        }
    }
}
