using Microsoft.Extensions.Options;

namespace Chat.ServiceDefaults.Authentication;

/// <summary>
/// How every Chat service validates bearer tokens (section <c>Jwt</c>). Either an OIDC <see cref="Authority"/>
/// (production: the external auth service publishes its keys), or a symmetric <see cref="SigningKey"/> with
/// <see cref="Issuer"/> and <see cref="Audience"/> (development and tests; the app host passes these as the
/// parameters <c>jwt-issuer</c>, <c>jwt-audience</c> and <c>jwt-signing-key</c>).
/// </summary>
public sealed class ChatJwtOptions
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

    /// <summary>
    /// How many validated tokens the gateway and chat-api each remember (<see cref="ValidatedTokenCache"/>): a client's
    /// later requests skip parsing and the signature check until its token expires, for at most five minutes. 0
    /// validates every request in full. chat-streaming validates once per socket and keeps none.
    /// </summary>
    public int ValidatedTokenCacheSize { get; set; } = ValidatedTokenCache.DefaultCapacity;
}

/// <summary>
/// Checks <see cref="ChatJwtOptions"/> at start-up. Written out rather than through data annotations: it is the
/// same three rules, and it needs no reflection, so the services that are compiled ahead of time can use it.
/// </summary>
public sealed class ChatJwtOptionsValidator : IValidateOptions<ChatJwtOptions>
{
    public ValidateOptionsResult Validate(string? name, ChatJwtOptions options)
    {
        List<string> failures = [];
        if (string.IsNullOrWhiteSpace(options.Authority) && string.IsNullOrWhiteSpace(options.SigningKey))
        {
            failures.Add("Set Jwt:Authority (OIDC) or Jwt:SigningKey (development).");
        }
        if (!string.IsNullOrWhiteSpace(options.SigningKey) && System.Text.Encoding.UTF8.GetByteCount(options.SigningKey) < 32)
        {
            failures.Add("Jwt:SigningKey must be at least 32 bytes.");
        }
        if (string.IsNullOrWhiteSpace(options.Audience))
        {
            failures.Add("Set Jwt:Audience.");
        }
        if (options.ValidatedTokenCacheSize < 0)
        {
            failures.Add("Jwt:ValidatedTokenCacheSize must be 0 (off) or more.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
