using System.ClientModel;
using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace Chat.Llm.Providers;

/// <summary>Turns whatever a provider SDK threw into an <see cref="LlmException"/> with a stable code, and decides
/// whether it is transient — what the resilience pipeline retries (<see cref="LlmResilience"/>): 408/429/5xx, connection
/// errors and broken response streams are; other 4xx are not.</summary>
internal static class TransientFailures
{
    /// <summary>The <see cref="LlmException"/> for <paramref name="exception"/>; a transient one carries
    /// <paramref name="retryAfter"/>, the pause the provider asked for.</summary>
    public static LlmException Classify(Exception exception, TimeSpan? retryAfter = null)
    {
        if (exception is LlmException llm)
        {
            return llm;
        }

        var status = FindStatus(exception);
        if (status is { } code)
        {
            return code switch
            {
                429 => new LlmException(LlmErrorCodes.RateLimited, "The model provider is rate limiting requests.", exception, isTransient: true) { UpstreamStatus = code, RetryAfter = retryAfter },
                408 or >= 500 => new LlmException(LlmErrorCodes.UpstreamUnavailable, $"The model provider answered {code}.", exception, isTransient: true) { UpstreamStatus = code, RetryAfter = retryAfter },
                _ => new LlmException(LlmErrorCodes.UpstreamRejected, $"The model provider rejected the request ({code}).", exception) { UpstreamStatus = code },
            };
        }

        if (IsConnectionFailure(exception))
        {
            return new LlmException(LlmErrorCodes.UpstreamUnavailable, "The model provider could not be reached or dropped the connection.", exception, isTransient: true);
        }

        return new LlmException(LlmErrorCodes.UpstreamError, "The model provider failed.", exception);
    }

    private static bool IsConnectionFailure(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is HttpRequestException or IOException or SocketException or HttpIOException)
            {
                return true;
            }
        }

        return false;
    }

    private static int? FindStatus(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case ClientResultException { Status: > 0 } cre:
                    return cre.Status;
                case HttpRequestException { StatusCode: { } sc }:
                    return (int)sc;
                default:
                    break;
            }

            // Anthropic and OllamaSharp expose the status as a property on their own exception types.
            var property = e.GetType().GetProperty("StatusCode", BindingFlags.Public | BindingFlags.Instance)
                ?? e.GetType().GetProperty("Status", BindingFlags.Public | BindingFlags.Instance);
            switch (property?.GetValue(e))
            {
                case HttpStatusCode hsc:
                    return (int)hsc;
                case int i when i > 0:
                    return i;
                default:
                    break;
            }
        }

        return null;
    }
}
