using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Chat.IntegrationTests;

/// <summary>Mints HS256 tokens the way the external auth service would, with the key the fixture gives the app host.</summary>
public static class TestTokens
{
    public const string SigningKey = "integration-tests-signing-key-0123456789abcdefghijklmnop";
    public const string Issuer = "chat-dev";
    public const string Audience = "chat";
    public const string AllScopes = "chat.read chat.write";

    public static string Create(
        string userId,
        string tenantId,
        string scopes = AllScopes,
        TimeSpan? lifetime = null,
        string issuer = Issuer,
        string audience = Audience,
        string signingKey = SigningKey)
    {
        var now = DateTimeOffset.UtcNow;
        var expires = now + (lifetime ?? TimeSpan.FromHours(1));
        var issued = (expires - TimeSpan.FromHours(2) < now.AddMinutes(-5) ? expires - TimeSpan.FromHours(2) : now.AddMinutes(-5)).ToUnixTimeSeconds();
        var header = new Dictionary<string, object> { ["alg"] = "HS256", ["typ"] = "JWT" };
        var payload = new Dictionary<string, object>
        {
            ["sub"] = userId,
            ["tenant_id"] = tenantId,
            ["scope"] = scopes,
            ["iss"] = issuer,
            ["aud"] = audience,
            ["iat"] = issued,
            ["nbf"] = issued,
            ["exp"] = expires.ToUnixTimeSeconds(),
        };
        var unsigned = $"{Base64Url(JsonSerializer.SerializeToUtf8Bytes(header))}.{Base64Url(JsonSerializer.SerializeToUtf8Bytes(payload))}";
        var signature = HMACSHA256.HashData(Encoding.UTF8.GetBytes(signingKey), Encoding.ASCII.GetBytes(unsigned));
        return $"{unsigned}.{Base64Url(signature)}";
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
