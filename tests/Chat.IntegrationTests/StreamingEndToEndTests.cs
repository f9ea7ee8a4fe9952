using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Chat.IntegrationTests;

/// <summary>
/// chat.v1 against the real Chat.Api and generations over two streaming replicas: subscribe authorization and isolation,
/// a message.send whose streamed text equals the persisted assistant message and a cross-replica cancel whose partial
/// text is persisted. StreamingReplicaStopTests stops a replica mid-reply; the stub-backed tests in StreamingFanOutTests,
/// StreamingResumeTests and StreamingReplicaTests drive the same flows with frames published by the test.
/// </summary>
[Collection(ChatAppCollection.Name)]
public sealed class StreamingEndToEndTests(ChatAppFixture fixture)
{
    [Fact]
    public async Task SubscribeToOwnConversationSucceedsAndOtherTenantsOrUsersGetConversationNotFound()
    {
        var tenant = $"t-{Guid.NewGuid():N}";
        var owner = TestTokens.Create("owner", tenant);
        var conversationId = await CreateConversationAsync(owner);

        await using var mine = await StreamingTestClient.ConnectAsync(fixture.GatewayUri, owner);
        await mine.SendAsync(new { type = "subscribe", id = "s", conversationId });
        var subscribed = await mine.NextAsync("subscribed");
        Assert.Equal(conversationId.ToString(), subscribed.GetProperty("conversationId").GetString());

        foreach (var intruderToken in new[] { TestTokens.Create("owner", $"other-{Guid.NewGuid():N}"), TestTokens.Create("intruder", tenant) })
        {
            await using var intruder = await StreamingTestClient.ConnectAsync(fixture.GatewayUri, intruderToken);
            await intruder.SendAsync(new { type = "subscribe", id = "x", conversationId });
            var error = await intruder.NextAsync("error");
            Assert.Equal("conversation_not_found", error.GetProperty("code").GetString());
            await intruder.SendAsync(new { type = "message.send", id = "y", conversationId, content = "hi", clientMessageId = Guid.NewGuid().ToString() });
            Assert.Equal("conversation_not_found", (await intruder.NextAsync("error")).GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task MessageSendStreamsToBothReplicasAndTheCompletedTextEqualsThePersistedAssistantMessage()
    {
        var token = TestTokens.Create("writer", $"t-{Guid.NewGuid():N}");
        var conversationId = await CreateConversationAsync(token);
        var (a, b) = await ConnectOnBothReplicasAsync(token, conversationId);
        await using var _ = a;
        await using var __ = b;
        var generationId = await SendAsync(a, conversationId, "Say something short.");

        var framesA = await a.ReadGenerationAsync(generationId);
        var framesB = await b.ReadGenerationAsync(generationId);
        Assert.Equal(framesA.Select(f => f.GetRawText()), framesB.Select(f => f.GetRawText()));
        var completed = framesA[^1];
        Assert.Equal("generation.completed", completed.GetProperty("type").GetString());
        var seqs = framesA.Select(f => f.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(Enumerable.Range(0, seqs.Count).Select(i => (long)i), seqs);
        var assistant = await AssistantMessageAsync(token, conversationId, completed.GetProperty("messageId").GetString()!);
        Assert.Equal(TextOf(framesA), assistant.GetProperty("content").GetString());
    }

    [Fact]
    public async Task GenerationCancelThroughOneReplicaStopsAGenerationStartedThroughTheOtherAndThePartialTextIsPersisted()
    {
        var token = TestTokens.Create("canceller", $"t-{Guid.NewGuid():N}");
        var conversationId = await CreateConversationAsync(token);
        var (a, b) = await ConnectOnBothReplicasAsync(token, conversationId);
        await using var _ = a;
        await using var __ = b;
        var generationId = await SendAsync(a, conversationId, "a long answer please");
        await b.WaitForAsync(f => f.GetProperty("type").GetString() == "chunk" && f.GetProperty("seq").GetInt64() >= 3);

        await b.SendAsync(new { type = "generation.cancel", id = "c", generationId });
        var framesA = await a.ReadGenerationAsync(generationId);
        var framesB = await b.ReadGenerationAsync(generationId); // the frames after the one b waited for
        Assert.Equal(framesA.TakeLast(framesB.Count).Select(f => f.GetRawText()), framesB.Select(f => f.GetRawText()));
        var cancelled = framesA[^1];
        Assert.Equal("generation.cancelled", cancelled.GetProperty("type").GetString());
        Assert.Equal(Enumerable.Range(0, framesA.Count).Select(i => (long)i), framesA.Select(f => f.GetProperty("seq").GetInt64()));

        var assistant = await AssistantMessageAsync(token, conversationId, cancelled.GetProperty("messageId").GetString()!);
        Assert.Equal("cancelled", assistant.GetProperty("status").GetString());
        Assert.Equal(TextOf(framesA), assistant.GetProperty("content").GetString());
        Assert.False(string.IsNullOrEmpty(TextOf(framesA)));
    }

    /// <summary>Socket a, and socket b on the other replica subscribed to the conversation.</summary>
    private async Task<(StreamingTestClient A, StreamingTestClient B)> ConnectOnBothReplicasAsync(string token, Guid conversationId)
    {
        var a = await StreamingTestClient.ConnectAsync(fixture.GatewayUri, token);
        var b = await StreamingTestClient.ConnectElsewhereAsync(fixture.GatewayUri, token, a.Instance);
        await b.SendAsync(new { type = "subscribe", conversationId });
        await b.NextAsync("subscribed");
        return (a, b);
    }

    /// <summary>A message.send on a socket not yet subscribed: subscribed, then the ack naming the generation.</summary>
    private static async Task<Guid> SendAsync(StreamingTestClient client, Guid conversationId, string content)
    {
        await client.SendAsync(new { type = "message.send", id = "m", conversationId, content, clientMessageId = Guid.NewGuid().ToString() });
        await client.NextAsync("subscribed");
        var ack = await client.NextAsync("ack");
        Assert.True(ack.TryGetProperty("generationId", out var generation), $"Chat.Api's POST messages started no generation: {ack}");
        return generation.GetGuid();
    }

    private static string TextOf(IEnumerable<JsonElement> frames) =>
        string.Concat(frames.Where(f => f.GetProperty("type").GetString() == "chunk").Select(f => f.GetProperty("delta").GetString()));

    private async Task<JsonElement> AssistantMessageAsync(string token, Guid conversationId, string messageId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/conversations/{conversationId}/messages?limit=50");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await fixture.Gateway.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var items = page.RootElement.ValueKind == JsonValueKind.Array ? page.RootElement : page.RootElement.GetProperty("items");
        return items.EnumerateArray().Single(m => m.GetProperty("id").GetString() == messageId).Clone();
    }

    private async Task<Guid> CreateConversationAsync(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/conversations")
        {
            Content = new StringContent("""{"title":"streaming"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await fixture.Gateway.SendAsync(request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("id").GetGuid();
    }
}
