namespace Chat.Llm.Providers;

/// <summary>
/// Makes a cancelled call really stop reading. Some SDKs read a streamed body without passing the cancellation token
/// down (a stalled upstream would then hang the idle timeout or a cancel forever); disposing the response when the
/// request's token fires aborts the connection and fails the pending read at once.
/// </summary>
internal sealed class AbortOnCancelHandler : DelegatingHandler
{
    public AbortOnCancelHandler(HttpMessageHandler inner)
        : base(inner)
    {
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(static state => ((HttpResponseMessage)state!).Dispose(), response);
            response.Content = new DisposeHookContent(response.Content, registration);
        }

        return response;
    }

    /// <summary>Passes the content through and releases the cancellation registration with it.</summary>
    private sealed class DisposeHookContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly CancellationTokenRegistration _registration;

        public DisposeHookContent(HttpContent inner, CancellationTokenRegistration registration)
        {
            _inner = inner;
            _registration = registration;
            foreach (var header in inner.Headers)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => _inner.CopyToAsync(stream);

        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken) =>
            _inner.CopyToAsync(stream, cancellationToken);

        protected override Task<Stream> CreateContentReadStreamAsync() => _inner.ReadAsStreamAsync();

        protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) => _inner.ReadAsStreamAsync(cancellationToken);

        protected override Stream CreateContentReadStream(CancellationToken cancellationToken) => _inner.ReadAsStream(cancellationToken);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _registration.Dispose();
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
