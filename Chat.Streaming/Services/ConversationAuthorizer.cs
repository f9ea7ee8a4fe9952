using Chat.ServiceDefaults.Authentication;
using Chat.Streaming.Infrastructure;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace Chat.Streaming.Services;

/// <summary>
/// Decides whether a caller may subscribe to a conversation by asking Chat.Api (the owner of tenancy) with the caller's
/// own token. Positive answers are cached briefly per (tenant, user, conversation); refusals never are.
/// </summary>
public sealed class ConversationAuthorizer(ChatApiClient api, IMemoryCache cache, IOptions<StreamingOptions> options)
{
    public async Task<ApiResult<bool>> AuthorizeAsync(ChatUser user, string bearerToken, Guid conversationId, CancellationToken cancellationToken)
    {
        var key = Key(user, conversationId);
        if (cache.TryGetValue(key, out _))
        {
            return ApiResult.Ok<bool>(true);
        }
        var result = await api.CanReadConversationAsync(conversationId, bearerToken, cancellationToken);
        if (result.Succeeded)
        {
            Remember(user, conversationId);
        }
        return result;
    }

    /// <summary>Chat.Api accepted a message from this user in this conversation: that proves access too.</summary>
    public void Remember(ChatUser user, Guid conversationId)
    {
        var duration = options.Value.AuthorizationCacheDuration;
        if (duration > TimeSpan.Zero)
        {
            cache.Set(Key(user, conversationId), true, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = duration, Size = 1 });
        }
    }

    private static (string, string, Guid) Key(ChatUser user, Guid conversationId) => (user.TenantId, user.UserId, conversationId);
}
