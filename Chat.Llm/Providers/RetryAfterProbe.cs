using System.Globalization;
using System.Net.Http.Headers;

namespace Chat.Llm.Providers;

/// <summary>
/// Carries a provider's <c>Retry-After</c> from its HTTP response to the attempt that failed: an attempt opens a probe
/// (an <see cref="AsyncLocal{T}"/>, so it flows into the SDK's HTTP call), <see cref="RetryAfterHandler"/> fills it from
/// a failed response, and the attempt's failure reads it. Not every SDK's exception carries the response headers
/// (Anthropic's and OllamaSharp's do not), the HTTP handler sees them for all.
/// </summary>
internal sealed class RetryAfterProbe
{
    private static readonly AsyncLocal<RetryAfterProbe?> s_current = new();

    /// <summary>The pause the provider asked for, if it did.</summary>
    public TimeSpan? Delay { get; private set; }

    /// <summary>A probe for the HTTP calls made from here on in this flow.</summary>
    public static RetryAfterProbe Open()
    {
        var probe = new RetryAfterProbe();
        s_current.Value = probe;
        return probe;
    }

    /// <summary>Records the pause <paramref name="headers"/> ask for in the probe of the current flow, if there is one.</summary>
    public static void Record(HttpResponseHeaders headers, TimeProvider time)
    {
        if (s_current.Value is { } probe && Parse(headers, time) is { } delay)
        {
            probe.Delay = delay;
        }
    }

    /// <summary><c>retry-after-ms</c> (OpenAI, Azure OpenAI) when present, else <c>Retry-After</c> in seconds or as a date.</summary>
    internal static TimeSpan? Parse(HttpResponseHeaders headers, TimeProvider time)
    {
        if (headers.TryGetValues("retry-after-ms", out var values)
            && double.TryParse(values.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms)
            && ms >= 0)
        {
            return TimeSpan.FromMilliseconds(ms);
        }

        return headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date > time.GetUtcNow() ? date - time.GetUtcNow() : TimeSpan.Zero,
            _ => null,
        };
    }
}
