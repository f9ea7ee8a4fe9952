using System.Text;
using System.Text.Json;

namespace Chat.IntegrationTests;

/// <summary>Reads a text/event-stream response event by event (id, event, data as JSON).</summary>
public sealed class SseReader(Stream stream, IDisposable? owner = null) : IDisposable
{
    private readonly StreamReader _reader = new(stream, Encoding.UTF8);

    /// <summary>Reads <paramref name="response"/>'s body; disposing the reader disposes the response.</summary>
    public static async Task<SseReader> OpenAsync(HttpResponseMessage response) =>
        new(await response.Content.ReadAsStreamAsync(), response);

    public sealed record Event(string? Id, string? Name, JsonElement Data)
    {
        public string Type => Data.TryGetProperty("type", out var t) ? t.GetString()! : Name ?? "";
        public long Seq => Data.GetProperty("seq").GetInt64();
        public bool IsTerminal => Type is "generation.completed" or "generation.failed" or "generation.cancelled";
    }

    /// <summary>The next event, or null at the end of the stream.</summary>
    public async Task<Event?> NextAsync(CancellationToken cancellationToken)
    {
        string? id = null, name = null;
        var data = new StringBuilder();
        while (await _reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Length == 0)
                {
                    continue;
                }
                using var doc = JsonDocument.Parse(data.ToString());
                return new Event(id, name, doc.RootElement.Clone());
            }
            if (line.StartsWith(':'))
            {
                continue;
            }
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": id = value; break;
                case "event": name = value; break;
                case "data": data.Append(data.Length == 0 ? "" : "\n").Append(value); break;
            }
        }
        return null;
    }

    /// <summary>Every event up to and including the terminal one (or the end of the stream).</summary>
    public async Task<List<Event>> ReadToTerminalAsync(CancellationToken cancellationToken)
    {
        var events = new List<Event>();
        while (await NextAsync(cancellationToken) is { } e)
        {
            events.Add(e);
            if (e.IsTerminal)
            {
                break;
            }
        }
        return events;
    }

    public void Dispose()
    {
        _reader.Dispose();
        owner?.Dispose();
    }
}
