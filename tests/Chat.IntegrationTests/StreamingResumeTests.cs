using Chat.Messaging;

namespace Chat.IntegrationTests;

/// <summary>Resume with <c>generationId</c> + <c>after</c>: replay from the generation's Redis Stream, then live, on any replica.</summary>
[Collection(StreamingAppCollection.Name)]
public sealed class StreamingResumeTests(StreamingAppFixture fixture)
{
    [Fact]
    public async Task SocketDroppedMidGenerationResumesOnTheOtherReplicaWithEveryChunkExactlyOnce()
    {
        var (tenant, user) = ($"t-{Guid.NewGuid():N}", "erin");
        var token = TestTokens.Create(user, tenant);
        var conversationId = fixture.Api.AddConversation(tenant, user);
        var generationId = Guid.CreateVersion7();
        var messageId = Guid.CreateVersion7();
        const int total = 400;

        var a = await fixture.ConnectAsync(token);
        await a.SendAsync(new { type = "subscribe", conversationId });
        await a.NextAsync("subscribed");

        // The generation keeps streaming the whole time, while the client drops and resumes elsewhere.
        var publisher = Task.Run(async () =>
        {
            await fixture.Generations.PublishAsync(StreamingGenerations.Started(conversationId, generationId, messageId));
            for (var seq = 1; seq <= total; seq++)
            {
                await fixture.Generations.PublishAsync(StreamingGenerations.Chunk(conversationId, generationId, seq));
                await Task.Delay(seq % 10 == 0 ? 5 : 0); // paces the publisher on purpose: still streaming while the client moves
            }
            await fixture.Generations.PublishAsync(StreamingGenerations.Completed(conversationId, generationId, messageId, total + 1));
        });

        var received = new List<long>();
        while (received.Count == 0 || received[^1] < 50)
        {
            var frame = await a.WaitForAsync(f => f.TryGetProperty("seq", out _));
            received.Add(frame.GetProperty("seq").GetInt64());
        }
        a.Abort();
        await a.DisposeAsync();
        var after = received[^1];

        await using var b = await StreamingTestClient.ConnectElsewhereAsync(fixture.GatewayUri, token, a.Instance);
        await b.SendAsync(new { type = "subscribe", conversationId, generationId, after });
        var subscribed = await b.NextAsync("subscribed");
        Assert.True(subscribed.GetProperty("recovered").GetBoolean());
        var rest = await b.ReadGenerationAsync(generationId);
        await publisher.WaitAsync(TimeSpan.FromSeconds(60));

        var all = received.Concat(rest.Select(f => f.GetProperty("seq").GetInt64())).ToList();
        Assert.Equal(Enumerable.Range(0, total + 2).Select(i => (long)i), all);
        Assert.Equal("generation.completed", rest[^1].GetProperty("type").GetString());
    }

    [Fact]
    public async Task ResumeOfAFinishedGenerationReplaysTheRestAndItsTerminalFrame()
    {
        var (tenant, user) = ($"t-{Guid.NewGuid():N}", "fay");
        var token = TestTokens.Create(user, tenant);
        var conversationId = fixture.Api.AddConversation(tenant, user);
        var generationId = Guid.CreateVersion7();
        await fixture.Generations.PublishWholeAsync(conversationId, generationId, 20);

        await using var client = await fixture.ConnectAsync(token);
        await client.SendAsync(new { type = "subscribe", id = "r", conversationId, generationId, after = 7 });
        var subscribed = await client.NextAsync("subscribed");
        Assert.True(subscribed.GetProperty("recovered").GetBoolean());
        Assert.Equal(14, subscribed.GetProperty("replayed").GetInt32());
        var frames = await client.ReadGenerationAsync(generationId);
        Assert.Equal(Enumerable.Range(8, 14).Select(i => (long)i), frames.Select(f => f.GetProperty("seq").GetInt64()));
    }

    [Fact]
    public async Task ResumeAfterTheReplayWindowExpiredAnswersRecoveredFalse()
    {
        var (tenant, user) = ($"t-{Guid.NewGuid():N}", "gus");
        var token = TestTokens.Create(user, tenant);
        var conversationId = fixture.Api.AddConversation(tenant, user);
        var generationId = Guid.CreateVersion7();
        await fixture.Generations.PublishWholeAsync(conversationId, generationId, 5);
        // The window passing is the stream's key expiring.
        await fixture.Generations.Redis.GetDatabase().KeyDeleteAsync(RedisKeys.GenerationStream(generationId));

        await using var client = await fixture.ConnectAsync(token);
        await client.SendAsync(new { type = "subscribe", conversationId, generationId, after = 2 });
        var subscribed = await client.NextAsync("subscribed");
        Assert.False(subscribed.GetProperty("recovered").GetBoolean());
        Assert.DoesNotContain(await client.PingAsync(), f => f.TryGetProperty("seq", out _));
    }

    [Fact]
    public async Task ResumeWithAnotherConversationsGenerationRevealsNothing()
    {
        var tenant = $"t-{Guid.NewGuid():N}";
        var mine = fixture.Api.AddConversation(tenant, "hal");
        var theirs = fixture.Api.AddConversation($"other-{Guid.NewGuid():N}", "ivy");
        var theirGeneration = Guid.CreateVersion7();
        await fixture.Generations.PublishWholeAsync(theirs, theirGeneration, 5);

        await using var client = await fixture.ConnectAsync(TestTokens.Create("hal", tenant));
        await client.SendAsync(new { type = "subscribe", conversationId = mine, generationId = theirGeneration, after = -1 });
        var subscribed = await client.NextAsync("subscribed");
        Assert.False(subscribed.GetProperty("recovered").GetBoolean());
        Assert.DoesNotContain(await client.PingAsync(), f => f.TryGetProperty("seq", out _));
    }
}
