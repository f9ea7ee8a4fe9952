namespace Chat.Llm.Providers;

/// <summary>Hands the <c>Retry-After</c> of a failed provider response to the current <see cref="RetryAfterProbe"/>.</summary>
internal sealed class RetryAfterHandler(HttpMessageHandler inner, TimeProvider time) : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            RetryAfterProbe.Record(response.Headers, time);
        }

        return response;
    }
}
