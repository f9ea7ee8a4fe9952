using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Chat.ServiceDefaults.Authentication;

/// <summary>
/// Refuses a token that names more than one user or tenant: <c>sub</c> or <c>tenant_id</c> given as an array or an
/// object, or twice in the payload. The token handler would turn an array into one claim per element (and keep one of
/// two equal keys), so which tenant a request acted for would depend on the token's order, not on its issuer's intent.
/// </summary>
/// <remarks>Sits under <see cref="ValidatedTokenCache"/>, so a cached token was checked once, when it was first validated.</remarks>
public sealed class SingleIdentityTokenHandler(TokenHandler inner) : TokenHandler
{
    private static readonly byte[] s_subject = Encoding.UTF8.GetBytes(ChatUser.SubjectClaim);
    private static readonly byte[] s_tenant = Encoding.UTF8.GetBytes(ChatUser.TenantClaim);

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        var result = await inner.ValidateTokenAsync(token, validationParameters);
        if (result.IsValid && result.SecurityToken is JsonWebToken jwt && !NamesOneIdentity(jwt.EncodedPayload))
        {
            return new TokenValidationResult
            {
                IsValid = false,
                Exception = new SecurityTokenValidationException("The token names more than one user or tenant."),
            };
        }
        return result;
    }

    public override SecurityToken ReadToken(string token) => inner.ReadToken(token);

    /// <summary>True when the payload (base64url JSON) has each of <c>sub</c> and <c>tenant_id</c> at most once, each a single value.</summary>
    public static bool NamesOneIdentity(string encodedPayload)
    {
        var reader = new Utf8JsonReader(Base64UrlEncoder.DecodeBytes(encodedPayload));
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }
        var (subjects, tenants) = (0, 0);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isSubject = reader.ValueTextEquals(s_subject);
            var isTenant = !isSubject && reader.ValueTextEquals(s_tenant);
            reader.Read();
            if ((isSubject && ++subjects > 1) || (isTenant && ++tenants > 1)
                || ((isSubject || isTenant) && reader.TokenType is JsonTokenType.StartArray or JsonTokenType.StartObject))
            {
                return false;
            }
            reader.Skip();
        }
        return true;
    }
}
