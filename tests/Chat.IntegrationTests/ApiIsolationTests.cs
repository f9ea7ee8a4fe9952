using System.Net;
using Chat.Data;
using Chat.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace Chat.IntegrationTests;

/// <summary>
/// Another tenant's or user's conversation must look exactly like one that does not exist (404, never 403), and
/// nothing may change. The last tests go under the API: the data layer's filter holds with no handler involved.
/// </summary>
[Collection(ChatAppCollection.Name)]
public sealed class ApiIsolationTests(ChatAppFixture fixture) : IAsyncLifetime
{
    private readonly ApiTestClient _owner = new(fixture);
    private ApiTestClient _otherTenant = null!;
    private ApiTestClient _otherUser = null!;
    private Guid _conversation;
    private Guid _message;

    public async Task InitializeAsync()
    {
        // Same user id in another tenant, and another user in the same tenant.
        _otherTenant = new ApiTestClient(fixture, tenantId: $"tenant-{Guid.NewGuid():N}", userId: _owner.UserId);
        _otherUser = new ApiTestClient(fixture, tenantId: _owner.TenantId);
        _conversation = ApiTestClient.Id(await _owner.CreateConversationAsync("private"));
        _message = (await _owner.PostMessageAsync(_conversation, "secret", "k1")).GetProperty("message").GetProperty("id").GetGuid();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public static TheoryData<string> Intruders => new() { "tenant", "user" };

    [Theory]
    [MemberData(nameof(Intruders))]
    public async Task EveryRouteOnAnotherOwnersConversationReturnsNotFoundAndChangesNothing(string intruderKind)
    {
        var intruder = intruderKind == "tenant" ? _otherTenant : _otherUser;
        var before = await SnapshotAsync();
        var attempts = new (HttpMethod Method, string Path, object? Body)[]
        {
            (HttpMethod.Get, $"/api/v1/conversations/{_conversation}", null),
            (HttpMethod.Patch, $"/api/v1/conversations/{_conversation}", new { title = "hijacked" }),
            (HttpMethod.Post, $"/api/v1/conversations/{_conversation}/archive", null),
            (HttpMethod.Post, $"/api/v1/conversations/{_conversation}/unarchive", null),
            (HttpMethod.Delete, $"/api/v1/conversations/{_conversation}", null),
            (HttpMethod.Post, $"/api/v1/conversations/{_conversation}/restore", null),
            (HttpMethod.Get, $"/api/v1/conversations/{_conversation}/messages", null),
            (HttpMethod.Get, $"/api/v1/conversations/{_conversation}/messages/{_message}", null),
            (HttpMethod.Post, $"/api/v1/conversations/{_conversation}/messages", new { content = "injected" }),
            (HttpMethod.Post, $"/api/v1/conversations/{_conversation}/messages", new { content = "replay", clientMessageId = "k1" }),
        };
        foreach (var (method, path, body) in attempts)
        {
            using var response = await intruder.SendAsync(method, path, body);
            await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.NotFound, "conversation_not_found");
        }

        using var list = await intruder.SendAsync(HttpMethod.Get, "/api/v1/conversations?limit=100");
        Assert.DoesNotContain(_conversation, (await ApiTestClient.JsonAsync(list)).GetProperty("items").EnumerateArray().Select(ApiTestClient.Id));
        using var archived = await intruder.SendAsync(HttpMethod.Get, "/api/v1/conversations?limit=100&status=archived");
        Assert.DoesNotContain(_conversation, (await ApiTestClient.JsonAsync(archived)).GetProperty("items").EnumerateArray().Select(ApiTestClient.Id));

        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task RestoreAnotherOwnersDeletedConversationReturnsNotFound()
    {
        var id = ApiTestClient.Id(await _owner.CreateConversationAsync("deleted"));
        using (var deleted = await _owner.SendAsync(HttpMethod.Delete, $"/api/v1/conversations/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }
        foreach (var intruder in new[] { _otherTenant, _otherUser })
        {
            using var restore = await intruder.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/restore");
            await ApiTestClient.AssertProblemAsync(restore, HttpStatusCode.NotFound, "conversation_not_found");
        }
        Assert.Equal(1L, await ApiTestClient.ScalarAsync<long>(fixture,
            "SELECT count(*) FROM chat_conversations WHERE id = @id AND deleted_at IS NOT NULL", ("id", id)));
    }

    [Fact]
    public async Task GuessedConversationIdsReturnNotFoundLikeAnotherOwnersConversation()
    {
        using var foreign = await _otherTenant.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{_conversation}");
        using var missing = await _otherTenant.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{Guid.CreateVersion7()}");
        var a = await ApiTestClient.AssertProblemAsync(foreign, HttpStatusCode.NotFound, "conversation_not_found");
        var b = await ApiTestClient.AssertProblemAsync(missing, HttpStatusCode.NotFound, "conversation_not_found");
        // Indistinguishable but for the request id.
        Assert.Equal(a.GetProperty("title").GetString(), b.GetProperty("title").GetString());
        Assert.Equal(a.EnumerateObject().Select(p => p.Name).Order(), b.EnumerateObject().Select(p => p.Name).Order());

        // The dev seed's conversation ids are fixed and public: still invisible to anyone else.
        using var seeded = await _otherTenant.SendAsync(HttpMethod.Get, "/api/v1/conversations/0190a000-0000-7000-8000-000000000001");
        await ApiTestClient.AssertProblemAsync(seeded, HttpStatusCode.NotFound, "conversation_not_found");
    }

    [Fact]
    public async Task DataLayerFilterHoldsWithoutAnyWhereClause()
    {
        var connectionString = await fixture.ConnectionStringAsync("chatdb");
        var options = new DbContextOptionsBuilder<ChatDbContext>().UseNpgsql(connectionString).Options;
        var otherUsersConversation = ApiTestClient.Id(await _otherUser.CreateConversationAsync("other user"));
        await _otherUser.PostMessageAsync(otherUsersConversation, "other user's message");

        // Two contexts with different scopes share one compiled model: the filter must be bound per instance.
        await using var asOwner = ChatDbContext.Create(options, new DataScope(_owner.TenantId, _owner.UserId));
        await using var asOtherUser = ChatDbContext.Create(options, new DataScope(_otherUser.TenantId, _otherUser.UserId));
        await using var asOtherTenant = ChatDbContext.Create(options, new DataScope(_otherTenant.TenantId, _otherTenant.UserId));
        await using var asNobody = new ChatDbContext(options);

        // No Where at all: every row that comes back is the scope's own.
        var ownerConversations = await asOwner.Conversations.ToListAsync();
        Assert.Contains(ownerConversations, c => c.Id == _conversation);
        Assert.All(ownerConversations, c => Assert.Equal((_owner.TenantId, _owner.UserId), (c.TenantId, c.UserId)));
        var ownerMessages = await asOwner.Messages.ToListAsync();
        Assert.Contains(ownerMessages, m => m.Id == _message);
        Assert.All(ownerMessages, m => Assert.Equal((_owner.TenantId, _owner.UserId), (m.TenantId, m.UserId)));

        var otherConversations = await asOtherUser.Conversations.ToListAsync();
        Assert.Equal([otherUsersConversation], otherConversations.Select(c => c.Id));
        Assert.DoesNotContain(await asOtherUser.Messages.ToListAsync(), m => m.Id == _message);

        // The same user id in another tenant sees nothing; a context without a scope sees nothing at all.
        Assert.Empty(await asOtherTenant.Conversations.ToListAsync());
        Assert.Empty(await asOtherTenant.Messages.ToListAsync());
        Assert.Empty(await asNobody.Conversations.ToListAsync());
        Assert.Empty(await asNobody.Messages.ToListAsync());

        // A direct lookup by primary key, the soft-delete filter switched off, joins and counts: still filtered.
        Assert.Null(await asOtherUser.Conversations.FindAsync(_conversation));
        Assert.Null(await asOtherUser.Conversations.IgnoreQueryFilters([ChatDbContext.SoftDeleteFilter]).FirstOrDefaultAsync(c => c.Id == _conversation));
        Assert.Equal(0, await asOtherTenant.Messages.CountAsync(m => m.ConversationId == _conversation));
        Assert.Empty(await asOtherUser.Conversations.Where(c => c.Id == _conversation).SelectMany(c => c.Messages).ToListAsync());
        Assert.Equal(0, await asOtherTenant.Conversations.Where(c => c.Id == _conversation)
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.Title, "hijacked")));
        Assert.Equal(0, await asOtherTenant.Messages.Where(m => m.Id == _message).ExecuteDeleteAsync());

        // Only the system scope (purge, migrations) sees across owners.
        await using var asSystem = ChatDbContext.Create(options, DataScope.System);
        var both = await asSystem.Conversations.Where(c => c.Id == _conversation || c.Id == otherUsersConversation).CountAsync();
        Assert.Equal(2, both);
    }

    [Fact]
    public async Task DataLayerFilterIsSentAsParametersNotBakedIntoTheSql()
    {
        var options = new DbContextOptionsBuilder<ChatDbContext>().UseNpgsql(await fixture.ConnectionStringAsync("chatdb")).Options;
        await using var a = ChatDbContext.Create(options, new DataScope("tenant-a", "user-a"));
        await using var b = ChatDbContext.Create(options, new DataScope("tenant-b", "user-b"));
        var sqlA = a.Conversations.Where(c => c.Status == ConversationStatus.Active).ToQueryString();
        var sqlB = b.Conversations.Where(c => c.Status == ConversationStatus.Active).ToQueryString();
        Assert.Contains("tenant-a", sqlA, StringComparison.Ordinal); // ToQueryString prints parameter values…
        Assert.Contains("tenant-b", sqlB, StringComparison.Ordinal);
        Assert.DoesNotContain("tenant-a", sqlB, StringComparison.Ordinal); // …and each context binds its own.
        Assert.Contains("tenant_id = @", sqlA, StringComparison.Ordinal);
    }

    private async Task<string> SnapshotAsync()
    {
        await using var connection = await ApiTestClient.OpenDatabaseAsync(fixture);
        await using var command = new Npgsql.NpgsqlCommand("""
            SELECT concat_ws('|', c.title, c.status, c.deleted_at, c.updated_at, c.message_count, c.last_message_at, c.xmin,
                   (SELECT string_agg(m.id::text || ':' || m.content, ',' ORDER BY m.created_at) FROM chat_messages m WHERE m.conversation_id = c.id))
            FROM chat_conversations c WHERE c.id = @id
            """, connection);
        command.Parameters.AddWithValue("id", _conversation);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
