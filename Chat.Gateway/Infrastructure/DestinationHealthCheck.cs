using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Chat.Gateway.Infrastructure;

/// <summary>The gateway is only as healthy as what it routes to: asks a destination's <c>/health</c>.</summary>
internal sealed class DestinationHealthCheck(IHttpClientFactory httpClientFactory, string destination) : IHealthCheck
{
    public const string HttpClientName = "destination-health";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var client = httpClientFactory.CreateClient(HttpClientName);
            using var response = await client.GetAsync(new Uri($"http://{destination}/health"), cancellationToken);
            return response.IsSuccessStatusCode
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"{destination} answered {(int)response.StatusCode}.");
        }
        catch (HttpRequestException ex)
        {
            return HealthCheckResult.Unhealthy($"{destination} is unreachable.", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"{destination} did not answer in time.", ex);
        }
    }
}
