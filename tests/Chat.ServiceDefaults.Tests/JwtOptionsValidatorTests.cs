using Chat.ServiceDefaults.Authentication;

namespace Chat.ServiceDefaults.Tests;

/// <summary>
/// The start-up rules for <c>Jwt</c> settings, which every service (chat-streaming's handshake too) refuses to start
/// without. Written out rather than as data annotations, so they are pinned here.
/// </summary>
public sealed class JwtOptionsValidatorTests
{
    private static readonly ChatJwtOptionsValidator s_validator = new();

    [Fact]
    public void ASigningKeyOfThirtyTwoBytesAndAnAudienceAreEnough()
    {
        var result = s_validator.Validate(null, new ChatJwtOptions { SigningKey = new string('k', 32), Audience = "chat" });
        Assert.True(result.Succeeded);
    }

    [Fact]
    public void AnAuthorityStandsInForASigningKey()
    {
        var result = s_validator.Validate(null, new ChatJwtOptions { Authority = "https://auth.example.com", Audience = "chat" });
        Assert.True(result.Succeeded);
    }

    [Fact]
    public void EachMissingOrWeakSettingIsNamed()
    {
        Assert.Equal(["Set Jwt:Authority (OIDC) or Jwt:SigningKey (development).", "Set Jwt:Audience."],
            s_validator.Validate(null, new ChatJwtOptions()).Failures);
        Assert.Equal(["Jwt:SigningKey must be at least 32 bytes."],
            s_validator.Validate(null, new ChatJwtOptions { SigningKey = "short", Audience = "chat" }).Failures);
    }
}
