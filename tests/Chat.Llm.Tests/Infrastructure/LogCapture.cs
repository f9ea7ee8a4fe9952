using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Chat.Llm.Tests.Infrastructure;

/// <summary>A logger factory that keeps every entry's event id and structured values, for tests that read what was logged.</summary>
public sealed class LogCapture : ILoggerFactory, ILoggerProvider, ILogger
{
    public ConcurrentQueue<(EventId Id, IReadOnlyDictionary<string, object?> Values)> Entries { get; } = new();

    /// <summary>The entries with <paramref name="eventId"/>, oldest first.</summary>
    public List<IReadOnlyDictionary<string, object?>> Of(int eventId) => Entries.Where(e => e.Id.Id == eventId).Select(e => e.Values).ToList();

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var values = state as IEnumerable<KeyValuePair<string, object?>> ?? [];
        Entries.Enqueue((eventId, values.ToDictionary(v => v.Key, v => v.Value)));
    }

    public void Dispose()
    {
    }
}
