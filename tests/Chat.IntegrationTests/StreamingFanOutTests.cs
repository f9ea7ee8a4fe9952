using System.Text.Json;
using Chat.Messaging;

namespace Chat.IntegrationTests;

/// <summary>Fan-out across two chat-streaming replicas through the gateway, against real Redis.</summary>
[Collection(StreamingAppCollection.Name)]
public sealed class StreamingFanOutTests(StreamingAppFixture fixture)
{
    [Fact]
    public async Task MessageSendOnOneReplicaStreamsIdenticalFramesToSocketsOnBothReplicas()
    {
        var (tenant, user) = ($"t-{Guid.NewGuid():N}", "alice");
        var token = TestTokens.Create(user, tenant);
        var conversationId = fixture.Api.AddConversation(tenant, user);

        await using var a = await fixture.ConnectAsync(token);
        await using var b = await StreamingTestClient.ConnectElsewhereAsync(fixture.GatewayUri, token, a.Instance);
        Assert.NotEqual(a.Instance, b.Instance);

        await b.SendAsync(new { type = "subscribe", id = "s1", conversationId });
        var subscribed = await b.NextAsync("subscribed");
        Assert.Equal("s1", subscribed.GetProperty("id").GetString());
        Assert.True(subscribed.GetProperty("recovered").GetBoolean());
        Assert.Equal(b.Instance, subscribed.GetProperty("instance").GetString());

        var clientMessageId = Guid.NewGuid().ToString();
        await a.SendAsync(new { type = "message.send", id = "m1", conversationId, content = "hello", clientMessageId, model = "stub-model" });
        // The sender is subscribed implicitly, and the ack precedes every frame of its generation.
        Assert.Equal(conversationId.ToString(), (await a.NextAsync("subscribed")).GetProperty("conversationId").GetString());
        var ack = await a.NextAsync("ack");
        Assert.Equal("m1", ack.GetProperty("id").GetString());
        var generationId = ack.GetProperty("generationId").GetGuid();
        Assert.NotEqual(Guid.Empty, ack.GetProperty("messageId").GetGuid());
        Assert.NotEqual(Guid.Empty, ack.GetProperty("assistantMessageId").GetGuid());

        var framesA = await a.ReadGenerationAsync(generationId);
        var framesB = await b.ReadGenerationAsync(generationId);
        var n = fixture.Api.ChunksPerGeneration;
        foreach (var frames in new[] { framesA, framesB })
        {
            Assert.Equal(Enumerable.Range(0, n + 2).Select(i => (long)i), frames.Select(f => f.GetProperty("seq").GetInt64()));
            Assert.Equal("generation.started", frames[0].GetProperty("type").GetString());
            Assert.All(frames.Skip(1).Take(n), f => Assert.Equal("chunk", f.GetProperty("type").GetString()));
            Assert.Equal("generation.completed", frames[^1].GetProperty("type").GetString());
        }
        Assert.Equal(framesA.Select(f => f.GetRawText()), framesB.Select(f => f.GetRawText()));

        // Chat.Api got the caller's own token, asynchronous mode and the documented body.
        var post = fixture.Api.Requests.Last(r => r.Method == "POST" && r.Path.Contains(conversationId.ToString()));
        Assert.Equal("Bearer " + token, post.Authorization);
        Assert.Equal("respond-async", post.Prefer);
        using var body = JsonDocument.Parse(post.Body);
        Assert.Equal("hello", body.RootElement.GetProperty("content").GetString());
        Assert.Equal(clientMessageId, body.RootElement.GetProperty("clientMessageId").GetString());
        Assert.Equal("stub-model", body.RootElement.GetProperty("model").GetString());
    }

    [Fact]
    public async Task GenerationCancelThroughOneReplicaStopsAGenerationStartedThroughTheOther()
    {
        var (tenant, user) = ($"t-{Guid.NewGuid():N}", "bob");
        var token = TestTokens.Create(user, tenant);
        var conversationId = fixture.Api.AddConversation(tenant, user);
        await using var a = await fixture.ConnectAsync(token);
        await using var b = await StreamingTestClient.ConnectElsewhereAsync(fixture.GatewayUri, token, a.Instance);
        await b.SendAsync(new { type = "subscribe", conversationId });
        await b.NextAsync("subscribed");

        fixture.Api.ChunksPerGeneration = 2000;
        fixture.Api.ChunkDelay = TimeSpan.FromMilliseconds(20);
        try
        {
            await a.SendAsync(new { type = "message.send", conversationId, content = "long answer please", clientMessageId = Guid.NewGuid().ToString() });
            await a.NextAsync("subscribed");
            var generationId = (await a.NextAsync("ack")).GetProperty("generationId").GetGuid();
            await b.WaitForAsync(f => f.GetProperty("type").GetString() == "chunk" && f.GetProperty("seq").GetInt64() >= 3);

            await b.SendAsync(new { type = "generation.cancel", id = "c1", generationId });
            var framesA = await a.ReadGenerationAsync(generationId);
            var framesB = await b.ReadGenerationAsync(generationId);
            Assert.Equal("generation.cancelled", framesA[^1].GetProperty("type").GetString());
            Assert.Equal("generation.cancelled", framesB[^1].GetProperty("type").GetString());
            Assert.True(framesA[^1].GetProperty("seq").GetInt64() < 2000);
            Assert.Contains(generationId, fixture.Api.Cancels);
        }
        finally
        {
            fixture.Api.ChunksPerGeneration = 30;
            fixture.Api.ChunkDelay = TimeSpan.FromMilliseconds(5);
        }
    }

    [Fact]
    public async Task GenerationCancelOfAnUnseenGenerationReturnsGenerationNotFound()
    {
        await using var a = await fixture.ConnectAsync(TestTokens.Create("carol", $"t-{Guid.NewGuid():N}"));
        var generationId = Guid.CreateVersion7();
        await a.SendAsync(new { type = "generation.cancel", id = "c2", generationId });
        var error = await a.NextAsync("error");
        Assert.Equal("generation_not_found", error.GetProperty("code").GetString());
        Assert.Equal("c2", error.GetProperty("id").GetString());
        Assert.DoesNotContain(generationId, fixture.Api.Cancels);
    }

    [Fact]
    public async Task SubscribeToAnotherTenantsOrUsersConversationReturnsConversationNotFoundAndLeaksNothing()
    {
        var tenant = $"t-{Guid.NewGuid():N}";
        var victim = fixture.Api.AddConversation(tenant, "owner");
        foreach (var token in new[] { TestTokens.Create("owner", $"other-{Guid.NewGuid():N}"), TestTokens.Create("intruder", tenant) })
        {
            await using var intruder = await fixture.ConnectAsync(token);
            await intruder.SendAsync(new { type = "subscribe", id = "x", conversationId = victim });
            var error = await intruder.NextAsync("error");
            Assert.Equal("conversation_not_found", error.GetProperty("code").GetString());
            Assert.Equal("x", error.GetProperty("id").GetString());

            await intruder.SendAsync(new { type = "message.send", id = "y", conversationId = victim, content = "hi", clientMessageId = "c" });
            Assert.Equal("conversation_not_found", (await intruder.NextAsync("error")).GetProperty("code").GetString());

            // The victim's generation streams; the intruder sees none of it (and the connection still works). The owner,
            // on the intruder's replica, reads it to its end first: by then that replica has fanned out every frame.
            await using var owner = await StreamingTestClient.ConnectOnAsync(fixture.GatewayUri, TestTokens.Create("owner", tenant), intruder.Instance);
            await owner.SendAsync(new { type = "subscribe", conversationId = victim });
            await owner.NextAsync("subscribed");
            var generationId = Guid.CreateVersion7();
            await fixture.Generations.PublishWholeAsync(victim, generationId, 5);
            await owner.ReadGenerationAsync(generationId);
            var leaked = await intruder.PingAsync();
            Assert.DoesNotContain(leaked, f => f.TryGetProperty("generationId", out _));
        }
    }

    [Fact]
    public async Task EachReplicaHoldsOneRedisSubscriptionPerConversationAndDropsItWhenTheLastSocketLeaves()
    {
        var (tenant, user) = ($"t-{Guid.NewGuid():N}", "dave");
        var token = TestTokens.Create(user, tenant);
        var conversationId = fixture.Api.AddConversation(tenant, user);
        var clients = new List<StreamingTestClient>();
        try
        {
            for (var i = 0; i < 8; i++)
            {
                var client = await fixture.ConnectAsync(token);
                clients.Add(client);
                await client.SendAsync(new { type = "subscribe", conversationId });
                await client.NextAsync("subscribed");
            }
            var instances = clients.Select(c => c.Instance).Distinct().Count();
            Assert.Equal(instances, await NumSubAsync(conversationId));

            foreach (var client in clients)
            {
                await client.SendAsync(new { type = "unsubscribe", id = "u", conversationId });
                Assert.Equal("unsubscribed", (await client.NextAsync()).GetProperty("type").GetString());
            }
            Assert.Equal(0, await NumSubAsync(conversationId));
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    private async Task<long> NumSubAsync(Guid conversationId)
    {
        var server = fixture.Generations.Redis.GetServers()[0];
        var result = await server.ExecuteAsync("PUBSUB", "NUMSUB", (string)RedisKeys.ConversationChannel(conversationId)!);
        var parts = (StackExchange.Redis.RedisResult[])result!;
        return (long)parts[1];
    }
}
