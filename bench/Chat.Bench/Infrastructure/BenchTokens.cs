using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Chat.Bench.Infrastructure;

/// <summary>Mints the HS256 tokens Chat accepts (issuer <c>chat-dev</c>, audience <c>chat</c>) with the app host's key.</summary>
public static class BenchTokens
{
    public const string Issuer = "chat-dev";
    public const string Audience = "chat";
    public const string Scopes = "chat.read chat.write";

    public static string Create(string signingKey, string userId, string tenantId, TimeSpan lifetime)
    {
        var now = DateTimeOffset.UtcNow;
        var header = new Dictionary<string, object> { ["alg"] = "HS256", ["typ"] = "JWT" };
        var payload = new Dictionary<string, object>
        {
            ["sub"] = userId,
            ["tenant_id"] = tenantId,
            ["scope"] = Scopes,
            ["iss"] = Issuer,
            ["aud"] = Audience,
            ["iat"] = now.AddMinutes(-1).ToUnixTimeSeconds(),
            ["nbf"] = now.AddMinutes(-1).ToUnixTimeSeconds(),
            ["exp"] = (now + lifetime).ToUnixTimeSeconds(),
        };
        var unsigned = $"{Base64Url(JsonSerializer.SerializeToUtf8Bytes(header))}.{Base64Url(JsonSerializer.SerializeToUtf8Bytes(payload))}";
        var signature = HMACSHA256.HashData(Encoding.UTF8.GetBytes(signingKey), Encoding.ASCII.GetBytes(unsigned));
        return $"{unsigned}.{Base64Url(signature)}";
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
