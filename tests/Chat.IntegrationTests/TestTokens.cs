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
        return Sign(JsonSerializer.Serialize(payload), signingKey);
    }

    /// <summary>
    /// A token of the usual user, tenant and lifetime whose payload is edited as text by <paramref name="edit"/>, for
    /// shapes a serializer would not write (a claim given twice, an array where a string belongs).
    /// </summary>
    public static string CreateEdited(string userId, string tenantId, Func<string, string> edit)
    {
        var token = Create(userId, tenantId);
        var payload = Encoding.UTF8.GetString(Base64UrlDecode(token.Split('.')[1]));
        var edited = edit(payload);
        return edited != payload ? Sign(edited) : throw new ArgumentException($"The edit changed nothing in {payload}.", nameof(edit));
    }

    /// <summary>Signs <paramref name="payloadJson"/> exactly as given (HS256).</summary>
    public static string Sign(string payloadJson, string signingKey = SigningKey)
    {
        var header = new Dictionary<string, object> { ["alg"] = "HS256", ["typ"] = "JWT" };
        var unsigned = $"{Base64Url(JsonSerializer.SerializeToUtf8Bytes(header))}.{Base64Url(Encoding.UTF8.GetBytes(payloadJson))}";
        var signature = HMACSHA256.HashData(Encoding.UTF8.GetBytes(signingKey), Encoding.ASCII.GetBytes(unsigned));
        return $"{unsigned}.{Base64Url(signature)}";
    }

    private static byte[] Base64UrlDecode(string text)
    {
        var padded = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(padded.PadRight(padded.Length + (4 - padded.Length % 4) % 4, '='));
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
