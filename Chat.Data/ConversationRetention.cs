using Microsoft.EntityFrameworkCore;

namespace Chat.Data;

/// <summary>
/// Hard-deletes conversations soft-deleted before a cutoff (their messages go by the foreign key's cascade).
/// This is system work across every tenant, so it ignores the query filters on purpose; it is bounded: at most
/// <c>batchSize</c> conversations per statement and <c>maxBatches</c> statements per call, oldest deletions first
/// (<c>ix_chat_conversations_deleted_at</c>).
/// </summary>
public static class ConversationRetention
{
    public static async Task<int> PurgeAsync(
        ChatDbContext db, DateTimeOffset cutoff, int batchSize, int maxBatches, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatches, 1);

        var purged = 0;
        for (var batch = 0; batch < maxBatches; batch++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var ids = await db.Conversations
                .IgnoreQueryFilters()
                .Where(c => c.DeletedAt != null && c.DeletedAt < cutoff)
                .OrderBy(c => c.DeletedAt)
                .Select(c => c.Id)
                .Take(batchSize)
                .ToListAsync(cancellationToken);
            if (ids.Count == 0)
            {
                break;
            }

            // Re-checks the cutoff: a conversation restored since the select stays.
            purged += await db.Conversations
                .IgnoreQueryFilters()
                .Where(c => ids.Contains(c.Id) && c.DeletedAt != null && c.DeletedAt < cutoff)
                .ExecuteDeleteAsync(cancellationToken);

            if (ids.Count < batchSize)
            {
                break;
            }
        }
        return purged;
    }
}
