using System.Net;
using System.Text.Json;
using Chat.Data;
using Microsoft.EntityFrameworkCore;

namespace Chat.IntegrationTests;

[Collection(ChatAppCollection.Name)]
public sealed class ApiConversationTests(ChatAppFixture fixture)
{
    private readonly ApiTestClient _client = new(fixture);

    [Fact]
    public async Task CreateConversationReturnsCreatedWithLocationETagAndBody()
    {
        using var response = await _client.SendAsync(HttpMethod.Post, "/api/v1/conversations",
            new { title = "Hello", model = "gpt-test", provider = "openai", systemPrompt = "Be brief." });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await ApiTestClient.JsonAsync(response);
        var id = ApiTestClient.Id(body);
        Assert.Equal($"/api/v1/conversations/{id}", response.Headers.Location?.OriginalString);
        Assert.NotNull(response.Headers.ETag);
        Assert.Equal("Hello", body.GetProperty("title").GetString());
        Assert.Equal("gpt-test", body.GetProperty("model").GetString());
        Assert.Equal("openai", body.GetProperty("provider").GetString());
        Assert.Equal("Be brief.", body.GetProperty("systemPrompt").GetString());
        Assert.Equal("active", body.GetProperty("status").GetString());
        Assert.Equal(0, body.GetProperty("messageCount").GetInt32());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("lastMessageAt").ValueKind);
        Assert.Equal(7, id.Version);

        // Stored for this tenant and user.
        Assert.Equal(1L, await ApiTestClient.ScalarAsync<long>(fixture,
            "SELECT count(*) FROM chat_conversations WHERE id = @id AND tenant_id = @t AND user_id = @u",
            ("id", id), ("t", _client.TenantId), ("u", _client.UserId)));
    }

    [Fact]
    public async Task CreateConversationWithEmptyBodySucceeds()
    {
        using var response = await _client.SendAsync(HttpMethod.Post, "/api/v1/conversations", "{}");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await ApiTestClient.JsonAsync(response);
        Assert.Equal(JsonValueKind.Null, body.GetProperty("title").ValueKind);
    }

    [Fact]
    public async Task CreateConversationWithLongTitleReturnsValidationFailedWithFieldErrors()
    {
        using var response = await _client.SendAsync(HttpMethod.Post, "/api/v1/conversations",
            new { title = new string('x', Limits.TitleLength + 1), model = new string('m', Limits.ModelLength + 1) });
        var problem = await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("title", out _));
        Assert.True(errors.TryGetProperty("model", out _));
    }

    [Fact]
    public async Task GetConversationReturnsItWithETag()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync("get me"));
        using var response = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(response.Headers.ETag);
        Assert.Equal("get me", (await ApiTestClient.JsonAsync(response)).GetProperty("title").GetString());
    }

    [Fact]
    public async Task GetConversationUnknownIdReturnsConversationNotFound()
    {
        using var response = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{Guid.CreateVersion7()}");
        await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.NotFound, "conversation_not_found");
    }

    [Fact]
    public async Task PatchConversationWithCurrentETagUpdatesAndStaleETagReturnsPreconditionFailed()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync("before"));
        using var get = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}");
        var etag = get.Headers.ETag!.ToString();

        using var patched = await _client.SendAsync(HttpMethod.Patch, $"/api/v1/conversations/{id}",
            new { title = "after", systemPrompt = "New prompt", model = "m2", provider = "p2" },
            r => r.Headers.TryAddWithoutValidation("If-Match", etag));
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var body = await ApiTestClient.JsonAsync(patched);
        Assert.Equal("after", body.GetProperty("title").GetString());
        Assert.Equal("New prompt", body.GetProperty("systemPrompt").GetString());
        Assert.Equal("m2", body.GetProperty("model").GetString());
        Assert.Equal("p2", body.GetProperty("provider").GetString());
        var newETag = patched.Headers.ETag!.ToString();
        Assert.NotEqual(etag, newETag);

        // The old ETag is stale now: 412 and nothing changes.
        using var stale = await _client.SendAsync(HttpMethod.Patch, $"/api/v1/conversations/{id}", new { title = "lost update" },
            r => r.Headers.TryAddWithoutValidation("If-Match", etag));
        await ApiTestClient.AssertProblemAsync(stale, HttpStatusCode.PreconditionFailed, "precondition_failed");

        using var garbage = await _client.SendAsync(HttpMethod.Patch, $"/api/v1/conversations/{id}", new { title = "lost update" },
            r => r.Headers.TryAddWithoutValidation("If-Match", "\"not-a-version\""));
        await ApiTestClient.AssertProblemAsync(garbage, HttpStatusCode.PreconditionFailed, "precondition_failed");

        using var after = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}");
        Assert.Equal("after", (await ApiTestClient.JsonAsync(after)).GetProperty("title").GetString());
        Assert.Equal(newETag, after.Headers.ETag!.ToString());
    }

    [Fact]
    public async Task PatchConversationConcurrentlyWithTheSameETagLetsExactlyOneWin()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync("contended"));
        using var get = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}");
        var etag = get.Headers.ETag!.ToString();

        using var start = new SemaphoreSlim(0);
        var writers = Enumerable.Range(0, 10).Select(async i =>
        {
            await start.WaitAsync();
            using var response = await _client.SendAsync(HttpMethod.Patch, $"/api/v1/conversations/{id}", new { title = $"writer {i}" },
                r => r.Headers.TryAddWithoutValidation("If-Match", etag));
            return (response.StatusCode, Title: response.IsSuccessStatusCode ? (await ApiTestClient.JsonAsync(response)).GetProperty("title").GetString() : null);
        }).ToList();
        start.Release(10);
        var results = await Task.WhenAll(writers).WaitAsync(ChatAppFixture.StepTimeout);

        var winner = Assert.Single(results, r => r.StatusCode == HttpStatusCode.OK);
        Assert.Equal(9, results.Count(r => r.StatusCode == HttpStatusCode.PreconditionFailed));
        using var after = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}");
        Assert.Equal(winner.Title, (await ApiTestClient.JsonAsync(after)).GetProperty("title").GetString());
    }

    [Fact]
    public async Task PatchConversationAfterAMessageWithOldETagReturnsPreconditionFailed()
    {
        // A new message changes the row (message_count), so an ETag read before it is stale.
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var get = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}");
        await _client.PostMessageAsync(id, "hello");
        using var stale = await _client.SendAsync(HttpMethod.Patch, $"/api/v1/conversations/{id}", new { title = "x" },
            r => r.Headers.TryAddWithoutValidation("If-Match", get.Headers.ETag!.ToString()));
        await ApiTestClient.AssertProblemAsync(stale, HttpStatusCode.PreconditionFailed, "precondition_failed");
    }

    [Fact]
    public async Task PatchConversationWithoutIfMatchUpdatesAndEmptyStringClears()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync("keep"));
        using var patched = await _client.SendAsync(HttpMethod.Patch, $"/api/v1/conversations/{id}", new { systemPrompt = "p" });
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var body = await ApiTestClient.JsonAsync(patched);
        Assert.Equal("keep", body.GetProperty("title").GetString());
        Assert.Equal("p", body.GetProperty("systemPrompt").GetString());

        using var cleared = await _client.SendAsync(HttpMethod.Patch, $"/api/v1/conversations/{id}", new { title = "" });
        Assert.Equal(JsonValueKind.Null, (await ApiTestClient.JsonAsync(cleared)).GetProperty("title").ValueKind);
    }

    [Fact]
    public async Task PatchConversationWithTooLongTitleReturnsValidationFailed()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var response = await _client.SendAsync(HttpMethod.Patch, $"/api/v1/conversations/{id}", new { title = new string('t', 201) });
        var problem = await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("title", out _));
    }

    [Fact]
    public async Task ArchiveAndUnarchiveMoveTheConversationBetweenStatusLists()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using (var archived = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/archive"))
        {
            Assert.Equal(HttpStatusCode.OK, archived.StatusCode);
            Assert.Equal("archived", (await ApiTestClient.JsonAsync(archived)).GetProperty("status").GetString());
        }
        Assert.DoesNotContain(id, await ListIdsAsync("active"));
        Assert.Contains(id, await ListIdsAsync("archived"));

        using (var unarchived = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/unarchive"))
        {
            Assert.Equal(HttpStatusCode.OK, unarchived.StatusCode);
            Assert.Equal("active", (await ApiTestClient.JsonAsync(unarchived)).GetProperty("status").GetString());
        }
        Assert.Contains(id, await ListIdsAsync(null));
        Assert.DoesNotContain(id, await ListIdsAsync("archived"));
    }

    [Fact]
    public async Task ArchiveUnknownConversationReturnsNotFound()
    {
        using var response = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{Guid.CreateVersion7()}/archive");
        await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.NotFound, "conversation_not_found");
    }

    [Fact]
    public async Task DeleteConversationIsSoftAndRestoreBringsItBackWithItsMessages()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        await _client.PostMessageAsync(id, "keep me");

        using (var deleted = await _client.SendAsync(HttpMethod.Delete, $"/api/v1/conversations/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }
        using (var get = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}"))
        {
            await ApiTestClient.AssertProblemAsync(get, HttpStatusCode.NotFound, "conversation_not_found");
        }
        using (var messages = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}/messages"))
        {
            await ApiTestClient.AssertProblemAsync(messages, HttpStatusCode.NotFound, "conversation_not_found");
        }
        using (var post = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", new { content = "x" }))
        {
            await ApiTestClient.AssertProblemAsync(post, HttpStatusCode.NotFound, "conversation_not_found");
        }
        using (var again = await _client.SendAsync(HttpMethod.Delete, $"/api/v1/conversations/{id}"))
        {
            await ApiTestClient.AssertProblemAsync(again, HttpStatusCode.NotFound, "conversation_not_found");
        }
        Assert.DoesNotContain(id, await ListIdsAsync(null));
        // Still in the database: soft.
        Assert.Equal(1L, await ApiTestClient.ScalarAsync<long>(fixture,
            "SELECT count(*) FROM chat_conversations WHERE id = @id AND deleted_at IS NOT NULL", ("id", id)));

        using (var restored = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/restore"))
        {
            Assert.Equal(HttpStatusCode.OK, restored.StatusCode);
            var body = await ApiTestClient.JsonAsync(restored);
            Assert.Equal(1, body.GetProperty("messageCount").GetInt32());
            Assert.Equal(JsonValueKind.Null, body.GetProperty("deletedAt").ValueKind);
        }
        Assert.Contains(id, await ListIdsAsync(null));
        using var history = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}/messages");
        Assert.Equal(1, (await ApiTestClient.JsonAsync(history)).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task RestoreConversationPastRetentionReturnsNotFound()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using (var deleted = await _client.SendAsync(HttpMethod.Delete, $"/api/v1/conversations/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }
        await ApiTestClient.ScalarAsync<object>(fixture,
            "UPDATE chat_conversations SET deleted_at = now() - interval '31 days' WHERE id = @id RETURNING 1", ("id", id));

        using var restore = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/restore");
        await ApiTestClient.AssertProblemAsync(restore, HttpStatusCode.NotFound, "conversation_not_found");
    }

    [Fact]
    public async Task RestoreActiveConversationIsIdempotent()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var restore = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/restore");
        Assert.Equal(HttpStatusCode.OK, restore.StatusCode);
    }

    [Fact]
    public async Task PurgeRemovesOnlyConversationsPastTheCutoffWithTheirMessages()
    {
        // Deleted 10 days ago: inside the API's 30-day retention (its background purge leaves these alone), but past
        // the 5-day cutoff this test gives the purge class directly.
        var expired = ApiTestClient.Id(await _client.CreateConversationAsync("expired"));
        var recent = ApiTestClient.Id(await _client.CreateConversationAsync("recently deleted"));
        var alive = ApiTestClient.Id(await _client.CreateConversationAsync("alive"));
        await _client.PostMessageAsync(expired, "gone soon");
        foreach (var id in new[] { expired, recent })
        {
            using var deleted = await _client.SendAsync(HttpMethod.Delete, $"/api/v1/conversations/{id}");
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }
        await ApiTestClient.ScalarAsync<object>(fixture,
            "UPDATE chat_conversations SET deleted_at = now() - interval '10 days' WHERE id = @id RETURNING 1", ("id", expired));

        await using (var db = ChatDbContext.Create(
            new DbContextOptionsBuilder<ChatDbContext>().UseNpgsql(await fixture.ConnectionStringAsync("chatdb")).Options, DataScope.System))
        {
            using var cts = new CancellationTokenSource(ChatAppFixture.StepTimeout);
            var purged = await ConversationRetention.PurgeAsync(db, DateTimeOffset.UtcNow.AddDays(-5), batchSize: 1, maxBatches: 10_000, cts.Token);
            Assert.True(purged >= 1);
        }

        Assert.Equal(0L, await ApiTestClient.ScalarAsync<long>(fixture, "SELECT count(*) FROM chat_conversations WHERE id = @id", ("id", expired)));
        Assert.Equal(0L, await ApiTestClient.ScalarAsync<long>(fixture, "SELECT count(*) FROM chat_messages WHERE conversation_id = @id", ("id", expired)));
        Assert.Equal(1L, await ApiTestClient.ScalarAsync<long>(fixture, "SELECT count(*) FROM chat_conversations WHERE id = @id", ("id", recent)));
        Assert.Equal(1L, await ApiTestClient.ScalarAsync<long>(fixture, "SELECT count(*) FROM chat_conversations WHERE id = @id", ("id", alive)));
        using var restore = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{recent}/restore");
        Assert.Equal(HttpStatusCode.OK, restore.StatusCode);
    }

    [Fact]
    public async Task PurgeServiceInTheApiRemovesConversationsPastRetention()
    {
        // The fixture runs the API's purge every 2 s; retention stays the default 30 days.
        var expired = ApiTestClient.Id(await _client.CreateConversationAsync("expired"));
        var withinRetention = ApiTestClient.Id(await _client.CreateConversationAsync("29 days"));
        await _client.PostMessageAsync(expired, "gone soon");
        foreach (var id in new[] { expired, withinRetention })
        {
            using var deleted = await _client.SendAsync(HttpMethod.Delete, $"/api/v1/conversations/{id}");
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }
        await ApiTestClient.ScalarAsync<object>(fixture,
            "UPDATE chat_conversations SET deleted_at = now() - interval '31 days' WHERE id = @id RETURNING 1", ("id", expired));
        await ApiTestClient.ScalarAsync<object>(fixture,
            "UPDATE chat_conversations SET deleted_at = now() - interval '29 days' WHERE id = @id RETURNING 1", ("id", withinRetention));

        async Task<bool> PurgedAsync(Guid id) => await ApiTestClient.ScalarAsync<long>(fixture,
            "SELECT count(*) FROM chat_conversations WHERE id = @id", ("id", id)) == 0;
        await Poll.UntilAsync(() => PurgedAsync(expired), TimeSpan.FromSeconds(30), "the expired conversation to be purged", TimeSpan.FromMilliseconds(250));
        Assert.Equal(0L, await ApiTestClient.ScalarAsync<long>(fixture, "SELECT count(*) FROM chat_messages WHERE conversation_id = @id", ("id", expired)));

        // Within retention: still there after a purge run that began after its deleted_at was set — proved by a marker
        // past retention, deleted only now, being purged — and restorable.
        var marker = ApiTestClient.Id(await _client.CreateConversationAsync("marker"));
        using (var deleted = await _client.SendAsync(HttpMethod.Delete, $"/api/v1/conversations/{marker}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }
        await ApiTestClient.ScalarAsync<object>(fixture,
            "UPDATE chat_conversations SET deleted_at = now() - interval '31 days' WHERE id = @id RETURNING 1", ("id", marker));
        await Poll.UntilAsync(() => PurgedAsync(marker), TimeSpan.FromSeconds(30), "the marker to be purged", TimeSpan.FromMilliseconds(250));
        using var restore = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{withinRetention}/restore");
        Assert.Equal(HttpStatusCode.OK, restore.StatusCode);
    }

    [Fact]
    public async Task ListConversationsOrdersByRecentActivityAndPagesWithCursor()
    {
        var client = new ApiTestClient(fixture);
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(ApiTestClient.Id(await client.CreateConversationAsync($"c{i}")));
        }
        // A message makes the oldest the most recent.
        await client.PostMessageAsync(ids[0], "bump");
        var expected = new[] { ids[0], ids[4], ids[3], ids[2], ids[1] };

        var seen = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var url = "/api/v1/conversations?limit=2" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            using var response = await client.SendAsync(HttpMethod.Get, url);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var page = await ApiTestClient.JsonAsync(response);
            var items = page.GetProperty("items").EnumerateArray().Select(ApiTestClient.Id).ToList();
            Assert.True(items.Count <= 2);
            seen.AddRange(items);
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(expected, seen);
        Assert.Equal(3, pages);
    }

    [Fact]
    public async Task ListConversationsWhileRowsAreInsertedConcurrentlyNeitherSkipsNorRepeats()
    {
        var client = new ApiTestClient(fixture);
        var original = new List<Guid>();
        for (var i = 0; i < 30; i++)
        {
            original.Add(ApiTestClient.Id(await client.CreateConversationAsync($"o{i}")));
        }

        using var stop = new CancellationTokenSource();
        var inserted = 0;
        var writer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await client.CreateConversationAsync("concurrent");
                Interlocked.Increment(ref inserted);
            }
        });

        var seen = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        int Inserted() => Volatile.Read(ref inserted);
        do
        {
            var before = Inserted();
            var url = "/api/v1/conversations?limit=3" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            using var response = await client.SendAsync(HttpMethod.Get, url);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var page = await ApiTestClient.JsonAsync(response);
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(ApiTestClient.Id));
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
            // The next page is read only once a row has been inserted since this one was: the listing changes between pages.
            await Poll.UntilAsync(() => Inserted() != before, ChatAppFixture.StepTimeout, "a row inserted since the last page", TimeSpan.FromMilliseconds(5));
        }
        while (cursor is not null && pages < 200);
        await stop.CancelAsync();
        await writer.WaitAsync(ChatAppFixture.StepTimeout);

        Assert.True(Inserted() > 0, "rows were inserted while paging");
        Assert.Equal(seen.Count, seen.Distinct().Count()); // no repeats
        foreach (var id in original)
        {
            Assert.Contains(id, seen); // no skips
        }
        // Everything seen after the first page is in the original order (newest first).
        var originalsSeen = seen.Where(original.Contains).ToList();
        Assert.Equal(Enumerable.Reverse(original), originalsSeen);
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=101", "limit")]
    [InlineData("status=deleted", "status")]
    [InlineData("status=ACTIVE", "status")]
    public async Task ListConversationsWithInvalidQueryReturnsValidationFailed(string query, string field)
    {
        using var response = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations?{query}");
        var problem = await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task ListConversationsWithNonNumericLimitReturnsValidationFailedForLimit()
    {
        using var response = await _client.SendAsync(HttpMethod.Get, "/api/v1/conversations?limit=zebra");
        var problem = await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("limit", out _), problem.ToString());
        Assert.DoesNotContain("zebra", problem.ToString(), StringComparison.Ordinal); // not hex: no request id can contain it
    }

    [Theory]
    [InlineData("garbage!!")]
    [InlineData("bTF8MTIzfDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw")] // a message cursor ("m1|...") is not a conversation cursor
    [InlineData("YzF8eHx5")]
    public async Task ListConversationsWithBadCursorReturnsInvalidCursor(string cursor)
    {
        using var response = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations?cursor={Uri.EscapeDataString(cursor)}");
        await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid_cursor");
    }

    [Fact]
    public async Task ListConversationsDefaultsToTwentyItems()
    {
        var client = new ApiTestClient(fixture);
        await Task.WhenAll(Enumerable.Range(0, 22).Select(i => client.CreateConversationAsync($"d{i}")));
        using var response = await client.SendAsync(HttpMethod.Get, "/api/v1/conversations");
        var page = await ApiTestClient.JsonAsync(response);
        Assert.Equal(20, page.GetProperty("items").GetArrayLength());
        Assert.NotNull(page.GetProperty("nextCursor").GetString());
    }

    private async Task<List<Guid>> ListIdsAsync(string? status)
    {
        using var response = await _client.SendAsync(HttpMethod.Get, "/api/v1/conversations?limit=100" + (status is null ? "" : $"&status={status}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await ApiTestClient.JsonAsync(response)).GetProperty("items").EnumerateArray().Select(ApiTestClient.Id).ToList();
    }
}
