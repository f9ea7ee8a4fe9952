using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.IdentityModel.Tokens;

namespace Chat.ServiceDefaults.Authentication;

/// <summary>
/// A token handler that remembers the tokens that passed validation, so a client's requests after its first one skip
/// parsing the JWT and checking its signature again, the way Envoy's <c>jwt_authn</c> caches verified tokens.
/// </summary>
/// <remarks>
/// - Only valid tokens are kept, keyed by the whole token string: a token that differs by one character is validated
///   in full.
/// - An entry lasts until the token expires (with the clock skew validation allowed it) and at most
///   <see cref="MaxAge"/>, so a changed signing key or issuer takes effect within that time. A token past its expiry is
///   validated again, and refused as expired.
/// - Each hit hands out its own copy of the identity: nothing one request does to its principal reaches another.
/// - At most <c>capacity</c> tokens: when full, expired entries are swept, and if that frees nothing the cache starts
///   over.
/// </remarks>
public sealed class ValidatedTokenCache(TokenHandler inner, TimeProvider time, int capacity = ValidatedTokenCache.DefaultCapacity) : TokenHandler
{
    public const int DefaultCapacity = 10_000;

    /// <summary>The longest a validation is reused.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, Entry> _valid = new(StringComparer.Ordinal);

    /// <summary>Tokens remembered now (for tests and diagnostics).</summary>
    public int Count => _valid.Count;

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        var now = time.GetUtcNow().UtcDateTime;
        if (_valid.TryGetValue(token, out var entry))
        {
            if (now < entry.Until)
            {
                return new TokenValidationResult
                {
                    IsValid = true,
                    ClaimsIdentity = entry.Identity.Clone(),
                    SecurityToken = entry.Token,
                    Issuer = entry.Issuer,
                    TokenType = entry.TokenType,
                };
            }

            _valid.TryRemove(KeyValuePair.Create(token, entry));
        }

        var result = await inner.ValidateTokenAsync(token, validationParameters);
        if (result.IsValid && result.SecurityToken is { } validated && result.ClaimsIdentity is { } identity)
        {
            var until = Min(validated.ValidTo.Add(validationParameters.ClockSkew), now.Add(MaxAge));
            if (until > now)
            {
                MakeRoom(now);
                _valid[token] = new Entry(identity.Clone(), validated, result.Issuer, result.TokenType, until);
            }
        }

        return result;
    }

    public override SecurityToken ReadToken(string token) => inner.ReadToken(token);

    private void MakeRoom(DateTime now)
    {
        if (_valid.Count < capacity)
        {
            return;
        }

        foreach (var (key, entry) in _valid)
        {
            if (now >= entry.Until)
            {
                _valid.TryRemove(KeyValuePair.Create(key, entry));
            }
        }

        if (_valid.Count >= capacity)
        {
            _valid.Clear();
        }
    }

    private static DateTime Min(DateTime a, DateTime b) => a < b ? a : b;

    private sealed record Entry(ClaimsIdentity Identity, SecurityToken Token, string? Issuer, string? TokenType, DateTime Until);
}
