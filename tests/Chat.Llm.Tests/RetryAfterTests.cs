using System.Net.Http.Headers;
using Chat.Llm.Providers;
using Microsoft.Extensions.Time.Testing;

namespace Chat.Llm.Tests;

/// <summary>How a provider's answer asks for a pause (<c>Retry-After</c> in seconds or as a date, OpenAI's
/// <c>retry-after-ms</c>), and which failures the resilience pipeline retries.</summary>
public sealed class RetryAfterTests
{
    private static readonly DateTimeOffset s_now = new(2026, 12, 3, 10, 0, 0, TimeSpan.Zero);

    private static HttpResponseHeaders Headers(params (string Name, string Value)[] headers)
    {
        var response = new HttpResponseMessage(System.Net.HttpStatusCode.TooManyRequests);
        foreach (var (name, value) in headers)
        {
            response.Headers.TryAddWithoutValidation(name, value);
        }

        return response.Headers;
    }

    [Fact]
    public void RetryAfterInSecondsIsThatPause() =>
        Assert.Equal(TimeSpan.FromSeconds(2), RetryAfterProbe.Parse(Headers(("Retry-After", "2")), new FakeTimeProvider(s_now)));

    [Fact]
    public void RetryAfterAsADateIsThePauseUntilThen() =>
        Assert.Equal(TimeSpan.FromSeconds(5), RetryAfterProbe.Parse(Headers(("Retry-After", "Thu, 03 Dec 2026 10:00:05 GMT")), new FakeTimeProvider(s_now)));

    [Fact]
    public void RetryAfterMsWinsOverRetryAfter() =>
        Assert.Equal(TimeSpan.FromMilliseconds(1500), RetryAfterProbe.Parse(Headers(("retry-after-ms", "1500"), ("Retry-After", "2")), new FakeTimeProvider(s_now)));

    [Fact]
    public void NoHeaderMeansNoPause() =>
        Assert.Null(RetryAfterProbe.Parse(Headers(), new FakeTimeProvider(s_now)));

    [Fact]
    public void OnlyTransientFailuresWithinTheLongestBackOffAreRetried()
    {
        var maxDelay = TimeSpan.FromSeconds(8);
        var rateLimited = new LlmException(LlmErrorCodes.RateLimited, "429", isTransient: true);

        Assert.True(LlmResilience.ShouldRetry(rateLimited, maxDelay));
        Assert.True(LlmResilience.ShouldRetry(new LlmException(LlmErrorCodes.RateLimited, "429", isTransient: true) { RetryAfter = TimeSpan.FromSeconds(8) }, maxDelay));
        Assert.False(LlmResilience.ShouldRetry(new LlmException(LlmErrorCodes.RateLimited, "429", isTransient: true) { RetryAfter = TimeSpan.FromSeconds(9) }, maxDelay));
        Assert.False(LlmResilience.ShouldRetry(new LlmException(LlmErrorCodes.UpstreamRejected, "400"), maxDelay));
        Assert.True(LlmResilience.ShouldRetry(new Polly.Timeout.TimeoutRejectedException(), maxDelay));
        Assert.False(LlmResilience.ShouldRetry(new OperationCanceledException(), maxDelay));
    }
}
