namespace Chat.Api.Contracts;

/// <summary>Body of <c>POST /api/v1/dev/token</c> (Development only). Defaults: dev-user, dev-tenant, both scopes, 60 minutes.</summary>
public sealed record DevTokenRequest(string? UserId, string? TenantId, string? Scopes, int? LifetimeMinutes);

public sealed record DevTokenResponse(string AccessToken, string TokenType, DateTimeOffset ExpiresAt, string UserId, string TenantId, string Scopes);
