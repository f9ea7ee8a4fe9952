using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace Chat.ServiceDefaults.Authentication;

/// <summary>The <c>?access_token=</c> a browser's WebSocket sends in place of an Authorization header.</summary>
public static class QueryStringToken
{
    public const string Parameter = "access_token";

    /// <summary>
    /// The first <c>access_token</c> parameter, decoded; null without one. It reads the raw query string instead of
    /// <c>Request.Query</c>, which parses every parameter into a collection that the request keeps for its life: for a
    /// WebSocket that is hours, ~0.3 KB per socket (dotnet-gcdump at 10,000 sockets).
    /// </summary>
    public static string? Read(HttpRequest request)
    {
        if (!request.QueryString.HasValue)
        {
            return null;
        }
        foreach (var pair in new QueryStringEnumerable(request.QueryString.Value))
        {
            if (pair.DecodeName().Span.SequenceEqual(Parameter))
            {
                return pair.DecodeValue().ToString();
            }
        }
        return null;
    }
}
