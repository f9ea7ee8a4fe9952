using System.Net;
using System.Text.Json;

namespace Chat.IntegrationTests;

[Collection(ChatAppCollection.Name)]
public sealed class ApiMessageTests(ChatAppFixture fixture)
{
    private readonly ApiTestClient _client = new(fixture);

    [Fact]
    public async Task PostMessageStoresTheUserMessageAndReturnsCreated()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var response = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages",
            new { content = "Hello there", clientMessageId = "c-1", reply = false });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await ApiTestClient.JsonAsync(response);
        var message = body.GetProperty("message");
        var messageId = message.GetProperty("id").GetGuid();
        Assert.Equal($"/api/v1/conversations/{id}/messages/{messageId}", response.Headers.Location?.OriginalString);
        Assert.Equal("user", message.GetProperty("role").GetString());
        Assert.Equal("completed", message.GetProperty("status").GetString());
        Assert.Equal("Hello there", message.GetProperty("content").GetString());
        Assert.Equal("c-1", message.GetProperty("clientMessageId").GetString());
        Assert.Equal(id, message.GetProperty("conversationId").GetGuid());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("generation").ValueKind);

        using var get = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}/messages/{messageId}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal("Hello there", (await ApiTestClient.JsonAsync(get)).GetProperty("content").GetString());
    }

    [Fact]
    public async Task GetMessageUnknownIdReturnsMessageNotFound()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var response = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}/messages/{Guid.CreateVersion7()}");
        await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.NotFound, "message_not_found");
    }

    [Fact]
    public async Task PostMessageRetryWithSameClientMessageIdReturnsFirstResultAndCreatesNothing()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var first = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", new { content = "once", clientMessageId = "retry-1", reply = false });
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var firstBody = await first.Content.ReadAsStringAsync();

        using var retry = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", new { content = "once", clientMessageId = "retry-1", reply = false });
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal(firstBody, await retry.Content.ReadAsStringAsync());

        Assert.Equal(1L, await ApiTestClient.ScalarAsync<long>(fixture, "SELECT count(*) FROM chat_messages WHERE conversation_id = @id", ("id", id)));
    }

    [Fact]
    public async Task PostMessageTwentyConcurrentIdenticalPostsCreateExactlyOneMessage()
    {
        // Straight to chat-api: the gateway caps one user's concurrent message posts (429 past the cap), and this is
        // about the API's own guarantee when 20 identical posts do arrive at once (e.g. through several gateways).
        var (id, results) = await PostAtOnceAsync(20, new { content = "exactly once", clientMessageId = $"concurrent-{Guid.NewGuid():N}", reply = false });

        Assert.Single(results, r => r.StatusCode == HttpStatusCode.Created);
        Assert.Equal(19, results.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Single(results.Select(r => r.Body.GetProperty("message").GetProperty("id").GetGuid()).Distinct());

        Assert.Equal(1L, await ApiTestClient.ScalarAsync<long>(fixture, "SELECT count(*) FROM chat_messages WHERE conversation_id = @id", ("id", id)));
        Assert.Equal(1, await ApiTestClient.ScalarAsync<int>(fixture, "SELECT message_count FROM chat_conversations WHERE id = @id", ("id", id)));
    }

    [Fact]
    public async Task ConcurrentIdenticalPostsAskingForAReplyStoreOneMessageAndStartOneGeneration()
    {
        // The message and its reply's placeholder go in together in one statement (a data-modifying CTE): a post that
        // loses the race on the client message id must store neither and answer with the winner's generation.
        var (id, results) = await PostAtOnceAsync(8, new { content = "reply once", clientMessageId = $"concurrent-reply-{Guid.NewGuid():N}" },
            r => r.Headers.Add("Prefer", "respond-async"));

        Assert.Single(results, r => r.StatusCode == HttpStatusCode.Accepted);
        Assert.Equal(7, results.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Single(results.Select(r => r.Body.GetProperty("message").GetProperty("id").GetGuid()).Distinct());
        var generations = results.Select(r => r.Body.GetProperty("generation").GetProperty("id").GetGuid()).Distinct().ToList();
        Assert.Single(generations);

        Assert.Equal(2L, await ApiTestClient.ScalarAsync<long>(fixture, "SELECT count(*) FROM chat_messages WHERE conversation_id = @id", ("id", id)));
        Assert.Equal(2, await ApiTestClient.ScalarAsync<int>(fixture, "SELECT message_count FROM chat_conversations WHERE id = @id", ("id", id)));
        // The reply is ordered after its message even though both rows were written by one statement.
        Assert.Equal(1L, await ApiTestClient.ScalarAsync<long>(fixture, """
            SELECT count(*) FROM chat_messages a JOIN chat_messages u ON a.parent_message_id = u.id
            WHERE a.conversation_id = @id AND a.role = 'assistant' AND a.created_at > u.created_at
            """, ("id", id)));
    }

    /// <summary>
    /// Creates a conversation and posts <paramref name="body"/> to it <paramref name="count"/> times at once, straight to
    /// chat-api (the gateway caps one user's concurrent message posts, and these tests are about the API's own guarantee).
    /// </summary>
    private async Task<(Guid Id, (HttpStatusCode StatusCode, JsonElement Body)[] Results)> PostAtOnceAsync(
        int count, object body, Action<HttpRequestMessage>? configure = null)
    {
        var client = new ApiTestClient(fixture, direct: true);
        var id = ApiTestClient.Id(await client.CreateConversationAsync());
        using var start = new SemaphoreSlim(0);
        var posts = Enumerable.Range(0, count).Select(async _ =>
        {
            await start.WaitAsync();
            using var response = await client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", body, configure);
            return (response.StatusCode, Body: await ApiTestClient.JsonAsync(response));
        }).ToList();
        start.Release(count);
        return (id, await Task.WhenAll(posts).WaitAsync(ChatAppFixture.StepTimeout));
    }

    [Fact]
    public async Task PostMessageKeepsMessageCountAndLastMessageAtExact()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        // Two at a time: even with the previous pair's leases not yet released, within the gateway's cap (4) on one
        // user's concurrent message posts.
        for (var batch = 0; batch < 6; batch++)
        {
            await Task.WhenAll(Enumerable.Range(0, 2).Select(i => _client.PostMessageAsync(id, $"m{batch}.{i}")));
        }
        await _client.PostMessageAsync(id, "dup", "same");
        await _client.PostMessageAsync(id, "dup", "same");

        using var get = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}");
        var conversation = await ApiTestClient.JsonAsync(get);
        Assert.Equal(13, conversation.GetProperty("messageCount").GetInt32());

        using var history = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}/messages?limit=100");
        var items = (await ApiTestClient.JsonAsync(history)).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(13, items.Count);
        var newest = items.Max(m => m.GetProperty("createdAt").GetDateTimeOffset());
        Assert.Equal(newest, conversation.GetProperty("lastMessageAt").GetDateTimeOffset());
        Assert.Equal(newest, conversation.GetProperty("lastActivityAt").GetDateTimeOffset());
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"content\":\"\"}")]
    [InlineData("{\"content\":\"   \"}")]
    public async Task PostMessageWithoutContentReturnsValidationFailed(string body)
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var response = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", body);
        var problem = await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("content", out _));
    }

    [Fact]
    public async Task PostMessageWithTooLongClientMessageIdReturnsValidationFailed()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var response = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages",
            new { content = "x", clientMessageId = new string('k', 129) });
        var problem = await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("clientMessageId", out _));
    }

    [Fact]
    public async Task PostMessageOverTheContentLimitReturnsContentTooLarge()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using (var atLimit = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", new { content = new string('a', 32 * 1024), reply = false }))
        {
            Assert.Equal(HttpStatusCode.Created, atLimit.StatusCode);
        }
        using (var over = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", new { content = new string('a', 32 * 1024 + 1) }))
        {
            await ApiTestClient.AssertProblemAsync(over, HttpStatusCode.RequestEntityTooLarge, "content_too_large");
        }
        // Counted in UTF-8 bytes: 11,000 three-byte characters are 33,000 bytes.
        using (var multiByte = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", new { content = new string('€', 11_000) }))
        {
            await ApiTestClient.AssertProblemAsync(multiByte, HttpStatusCode.RequestEntityTooLarge, "content_too_large");
        }
        Assert.Equal(1L, await ApiTestClient.ScalarAsync<long>(fixture, "SELECT count(*) FROM chat_messages WHERE conversation_id = @id", ("id", id)));
    }

    [Fact]
    public async Task PostMessageToArchivedConversationReturnsConflict()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using (var archive = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/archive"))
        {
            Assert.Equal(HttpStatusCode.OK, archive.StatusCode);
        }
        using var response = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{id}/messages", new { content = "late" });
        await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.Conflict, "conversation_archived");
    }

    [Fact]
    public async Task PostMessageToUnknownConversationReturnsNotFound()
    {
        using var response = await _client.SendAsync(HttpMethod.Post, $"/api/v1/conversations/{Guid.CreateVersion7()}/messages", new { content = "x" });
        await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.NotFound, "conversation_not_found");
    }

    [Fact]
    public async Task ListMessagesPagesForwardAndBackwardInConversationOrder()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        var posted = new List<Guid>();
        for (var i = 0; i < 7; i++)
        {
            posted.Add((await _client.PostMessageAsync(id, $"m{i}")).GetProperty("message").GetProperty("id").GetGuid());
        }

        // Forwards from the start, three at a time.
        var forward = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        do
        {
            using var response = await _client.SendAsync(HttpMethod.Get,
                $"/api/v1/conversations/{id}/messages?limit=3" + (cursor is null ? "" : $"&after={Uri.EscapeDataString(cursor)}"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var page = await ApiTestClient.JsonAsync(response);
            forward.AddRange(page.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("id").GetGuid()));
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
        }
        while (cursor is not null && pages < 10);
        Assert.Equal(posted, forward);
        Assert.Equal(3, pages);

        // Backwards: the page before m4 holds the three messages just before it (m1..m3), in conversation order;
        // its nextCursor continues backwards (to m0, then the start).
        using var second = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}/messages?limit=5");
        var firstFive = await ApiTestClient.JsonAsync(second);
        var afterFive = firstFive.GetProperty("nextCursor").GetString()!; // position of m4
        using var back = await _client.SendAsync(HttpMethod.Get,
            $"/api/v1/conversations/{id}/messages?limit=3&before={Uri.EscapeDataString(afterFive)}");
        var backPage = await ApiTestClient.JsonAsync(back);
        Assert.Equal(posted[1..4], backPage.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("id").GetGuid()).ToList());
        var older = backPage.GetProperty("nextCursor").GetString()!;
        using var back2 = await _client.SendAsync(HttpMethod.Get,
            $"/api/v1/conversations/{id}/messages?limit=3&before={Uri.EscapeDataString(older)}");
        var backPage2 = await ApiTestClient.JsonAsync(back2);
        Assert.Equal(posted[..1], backPage2.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("id").GetGuid()).ToList());
        Assert.Equal(JsonValueKind.Null, backPage2.GetProperty("nextCursor").ValueKind);
    }

    [Fact]
    public async Task ListMessagesLatestReturnsTheNewestPageThenOlderPagesByCursor()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        var posted = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            posted.Add((await _client.PostMessageAsync(id, $"m{i}")).GetProperty("message").GetProperty("id").GetGuid());
        }

        // As the web client loads a conversation: the newest page, then older pages with before=nextCursor.
        using var newest = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}/messages?limit=2&latest=true");
        Assert.Equal(HttpStatusCode.OK, newest.StatusCode);
        var page = await ApiTestClient.JsonAsync(newest);
        Assert.Equal(posted[3..], page.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("id").GetGuid()).ToList());

        var older = new List<Guid>();
        var cursor = page.GetProperty("nextCursor").GetString();
        while (cursor is not null)
        {
            using var response = await _client.SendAsync(HttpMethod.Get,
                $"/api/v1/conversations/{id}/messages?limit=2&before={Uri.EscapeDataString(cursor)}");
            var olderPage = await ApiTestClient.JsonAsync(response);
            older.InsertRange(0, olderPage.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("id").GetGuid()));
            cursor = olderPage.GetProperty("nextCursor").GetString();
        }
        Assert.Equal(posted[..3], older);

        // Everything fits: no cursor.
        using var all = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}/messages?latest=true");
        var allPage = await ApiTestClient.JsonAsync(all);
        Assert.Equal(posted, allPage.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("id").GetGuid()).ToList());
        Assert.Equal(JsonValueKind.Null, allPage.GetProperty("nextCursor").ValueKind);
    }

    [Fact]
    public async Task ListMessagesWhileMessagesArePostedConcurrentlyNeitherSkipsNorRepeats()
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        for (var i = 0; i < 20; i++)
        {
            await _client.PostMessageAsync(id, $"seed {i}");
        }
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            var n = 0;
            while (!stop.IsCancellationRequested && n < 200)
            {
                await _client.PostMessageAsync(id, $"live {n++}");
            }
        });

        var seen = new List<Guid>();
        string? cursor = null;
        for (var pages = 0; pages < 500; pages++)
        {
            using var response = await _client.SendAsync(HttpMethod.Get,
                $"/api/v1/conversations/{id}/messages?limit=4" + (cursor is null ? "" : $"&after={Uri.EscapeDataString(cursor)}"));
            var page = await ApiTestClient.JsonAsync(response);
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("id").GetGuid()));
            var next = page.GetProperty("nextCursor").GetString();
            if (next is null)
            {
                break;
            }
            cursor = next;
        }
        await stop.CancelAsync();
        await writer.WaitAsync(ChatAppFixture.StepTimeout);

        Assert.Equal(seen.Count, seen.Distinct().Count());
        using var all = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}/messages?limit=100");
        var stored = (await ApiTestClient.JsonAsync(all)).GetProperty("items").EnumerateArray().Select(m => m.GetProperty("id").GetGuid()).ToList();
        // What was read is exactly a prefix of the conversation in order: nothing skipped.
        Assert.Equal(stored.Take(seen.Count), seen);
    }

    [Theory]
    [InlineData("before=nope")]
    [InlineData("after=YzF8MXwwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA")] // a conversation cursor
    public async Task ListMessagesWithBadCursorReturnsInvalidCursor(string query)
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var response = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}/messages?{query}");
        await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid_cursor");
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=101")]
    [InlineData("before=a&after=b")]
    [InlineData("latest=true&after=a")]
    public async Task ListMessagesWithInvalidQueryReturnsValidationFailed(string query)
    {
        var id = ApiTestClient.Id(await _client.CreateConversationAsync());
        using var response = await _client.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{id}/messages?{query}");
        await ApiTestClient.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
    }
}
