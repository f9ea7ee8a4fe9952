using System.ComponentModel.DataAnnotations;

namespace Chat.ServiceDefaults.Authentication;

/// <summary>
/// How every Chat service validates bearer tokens (section <c>Jwt</c>). Either an OIDC <see cref="Authority"/>
/// (production: the external auth service publishes its keys), or a symmetric <see cref="SigningKey"/> with
/// <see cref="Issuer"/> and <see cref="Audience"/> (development and tests; the app host passes these as the
/// parameters <c>jwt-issuer</c>, <c>jwt-audience</c> and <c>jwt-signing-key</c>).
/// </summary>
public sealed class ChatJwtOptions : IValidatableObject
{
    public const string SectionName = "Jwt";

    /// <summary>OIDC authority whose discovery document and JWKS sign the tokens.</summary>
    public string? Authority { get; set; }

    /// <summary>Optional explicit metadata address (defaults to the authority's well-known document).</summary>
    public string? MetadataAddress { get; set; }

    public string? Issuer { get; set; }

    public string? Audience { get; set; }

    /// <summary>HMAC-SHA256 key (at least 32 bytes of UTF-8). Development and tests only.</summary>
    public string? SigningKey { get; set; }

    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrWhiteSpace(Authority) && string.IsNullOrWhiteSpace(SigningKey))
        {
            yield return new ValidationResult("Set Jwt:Authority (OIDC) or Jwt:SigningKey (development).", [nameof(Authority), nameof(SigningKey)]);
        }
        if (!string.IsNullOrWhiteSpace(SigningKey) && System.Text.Encoding.UTF8.GetByteCount(SigningKey) < 32)
        {
            yield return new ValidationResult("Jwt:SigningKey must be at least 32 bytes.", [nameof(SigningKey)]);
        }
        if (string.IsNullOrWhiteSpace(Audience))
        {
            yield return new ValidationResult("Set Jwt:Audience.", [nameof(Audience)]);
        }
    }
}
