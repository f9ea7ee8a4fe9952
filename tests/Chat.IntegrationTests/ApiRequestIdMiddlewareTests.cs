using System.Diagnostics;
using Chat.ServiceDefaults.RequestId;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Chat.IntegrationTests;

/// <summary>
/// The request id's place in logs and traces, which an HTTP client cannot see: the middleware runs here in-process
/// with a listening activity source and a logger that records scopes.
/// </summary>
public sealed class ApiRequestIdMiddlewareTests
{
    [Theory]
    [InlineData("client-id-42", "client-id-42")]
    [InlineData("bad id with spaces", null)]
    [InlineData(null, null)]
    public async Task RequestIdIsTheTraceIdentifierInTheLoggingScopeAndOnTheActivity(string? supplied, string? expected)
    {
        using var source = new ActivitySource("Chat.IntegrationTests.RequestId");
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == source.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        using var activity = source.StartActivity("request");
        Assert.NotNull(activity);

        var logger = new ScopeRecordingLogger();
        string? idInside = null;
        IReadOnlyList<KeyValuePair<string, object>>? scopeInside = null;
        var middleware = new RequestIdMiddleware(context =>
        {
            idInside = context.TraceIdentifier;
            scopeInside = logger.OpenScopes.LastOrDefault();
            return Task.CompletedTask;
        }, logger);

        var http = new DefaultHttpContext();
        if (supplied is not null)
        {
            http.Request.Headers[RequestIdMiddleware.HeaderName] = supplied;
        }
        await middleware.InvokeAsync(http);

        Assert.NotNull(idInside);
        if (expected is not null)
        {
            Assert.Equal(expected, idInside);
        }
        else
        {
            Assert.Matches("^[0-9a-f]{32}$", idInside);
        }
        Assert.Equal(idInside, http.Request.Headers[RequestIdMiddleware.HeaderName].ToString()); // forwarded on
        Assert.Equal(idInside, activity.GetTagItem(RequestIdMiddleware.ActivityTag));
        Assert.NotNull(scopeInside);
        Assert.Contains(new KeyValuePair<string, object>("RequestId", idInside), scopeInside);
        Assert.Empty(logger.OpenScopes); // closed after the request
    }

    private sealed class ScopeRecordingLogger : ILogger<RequestIdMiddleware>
    {
        public List<IReadOnlyList<KeyValuePair<string, object>>> OpenScopes { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull
        {
            var values = state as IReadOnlyList<KeyValuePair<string, object>> ?? [];
            OpenScopes.Add(values);
            return new Closer(() => OpenScopes.Remove(values));
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
        }

        private sealed class Closer(Action close) : IDisposable
        {
            public void Dispose() => close();
        }
    }
}
