using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Chat.IntegrationTests;

/// <summary>
/// chat.v1 against the real Chat.Api (issue 3) and generations (issue 4): subscribe authorization, isolation and a real
/// message.send whose streamed text equals the persisted assistant message (the stub-backed tests in
/// StreamingFanOutTests cover the same flow against the documented contract).
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

        await using var a = await StreamingTestClient.ConnectAsync(fixture.GatewayUri, token);
        await using var b = await StreamingTestClient.ConnectElsewhereAsync(fixture.GatewayUri, token, a.Instance);
        await b.SendAsync(new { type = "subscribe", conversationId });
        await b.NextAsync("subscribed");

        await a.SendAsync(new { type = "message.send", id = "m", conversationId, content = "Say something short.", clientMessageId = Guid.NewGuid().ToString() });
        await a.NextAsync("subscribed");
        var ack = await a.NextAsync("ack");
        Assert.True(ack.TryGetProperty("generationId", out var generation),
            $"Chat.Api's POST messages started no generation (generation wiring of issue 4 not merged yet): {ack}");
        var generationId = generation.GetGuid();

        var framesA = await a.ReadGenerationAsync(generationId);
        var framesB = await b.ReadGenerationAsync(generationId);
        Assert.Equal(framesA.Select(f => f.GetRawText()), framesB.Select(f => f.GetRawText()));
        var completed = framesA[^1];
        Assert.Equal("generation.completed", completed.GetProperty("type").GetString());
        var seqs = framesA.Select(f => f.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(Enumerable.Range(0, seqs.Count).Select(i => (long)i), seqs);
        var text = string.Concat(framesA.Where(f => f.GetProperty("type").GetString() == "chunk").Select(f => f.GetProperty("delta").GetString()));

        var assistantId = completed.GetProperty("messageId").GetString();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/conversations/{conversationId}/messages?limit=50");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await fixture.Gateway.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var items = page.RootElement.ValueKind == JsonValueKind.Array ? page.RootElement : page.RootElement.GetProperty("items");
        var assistant = items.EnumerateArray().Single(m => m.GetProperty("id").GetString() == assistantId);
        Assert.Equal(text, assistant.GetProperty("content").GetString());
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
