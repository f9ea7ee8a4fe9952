using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Chat.ServiceDefaults.RequestId;

/// <summary>
/// Gives every request one id a person can quote: the caller's <c>X-Request-Id</c> when it is well formed
/// (1–<see cref="MaxLength"/> characters of <c>[A-Za-z0-9._:-]</c>), else a new one. The id becomes
/// <see cref="HttpContext.TraceIdentifier"/> (so problem details carry it), is returned on every response,
/// is put in the logging scope as <c>RequestId</c> and tagged on the current activity as <c>request.id</c>.
/// </summary>
public sealed class RequestIdMiddleware(RequestDelegate next, ILogger<RequestIdMiddleware> logger)
{
    public const string HeaderName = "X-Request-Id";
    public const string ActivityTag = "request.id";
    public const int MaxLength = 128;

    public async Task InvokeAsync(HttpContext context)
    {
        var requestId = context.Request.Headers.TryGetValue(HeaderName, out var values) && values.Count == 1 && IsValid(values[0])
            ? values[0]!
            : Guid.CreateVersion7().ToString("N");

        context.TraceIdentifier = requestId;
        // Forwarded calls (the gateway to a service) carry the same id on.
        context.Request.Headers[HeaderName] = requestId;
        context.Response.OnStarting(static state =>
        {
            var (ctx, id) = ((HttpContext, string))state;
            ctx.Response.Headers[HeaderName] = id;
            return Task.CompletedTask;
        }, (context, requestId));
        Activity.Current?.SetTag(ActivityTag, requestId);

        using (logger.BeginScope(new RequestIdScope(requestId)))
        {
            await next(context);
        }
    }

    /// <summary>Whether a caller-supplied id is safe to echo and log.</summary>
    public static bool IsValid(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxLength)
        {
            return false;
        }
        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
            {
                return false;
            }
        }
        return true;
    }

    private sealed class RequestIdScope(string requestId) : IReadOnlyList<KeyValuePair<string, object>>
    {
        public KeyValuePair<string, object> this[int index] =>
            index == 0 ? new("RequestId", requestId) : throw new ArgumentOutOfRangeException(nameof(index));

        public int Count => 1;

        public IEnumerator<KeyValuePair<string, object>> GetEnumerator()
        {
            yield return this[0];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => $"RequestId:{requestId}";
    }
}
