using System.Text.Json;

namespace Chat.IntegrationTests;

/// <summary>One reply sent over a WebSocket of its own: the socket, its conversation, its generation and the user's message.</summary>
public sealed record ReplySocket(StreamingTestClient Socket, Guid Conversation, Guid Generation, Guid UserMessage);

/// <summary>Replies sent over sockets through the gateway, for fault tests: start them, read them to their end, check the frames.</summary>
public static class ReplySockets
{
    /// <summary>Starts one reply per conversation, each sent over a socket of its own through the gateway.</summary>
    public static async Task<List<ReplySocket>> StartAsync(ChatAppFixture fixture, ApiTestClient api, int count)
    {
        var clients = new List<ReplySocket>();
        for (var i = 0; i < count; i++)
        {
            var conversation = ApiTestClient.Id(await api.CreateConversationAsync($"reply-{i}"));
            var socket = await StreamingTestClient.ConnectAsync(fixture.GatewayUri, api.Token);
            await socket.SendAsync(new { type = "message.send", id = i, conversationId = conversation, content = "Tell me a long story", clientMessageId = $"m-{i}" });
            var ack = await socket.WaitForAsync(f => f.GetProperty("type").GetString() == "ack");
            clients.Add(new ReplySocket(socket, conversation, ack.GetProperty("generationId").GetGuid(), ack.GetProperty("messageId").GetGuid()));
        }
        return clients;
    }

    /// <summary>
    /// Reads one generation's frames until its terminal frame (asserting seq 0..n+1, nothing repeated, and returning the
    /// text), or until the replica says it cannot recover them (<c>stream.restored recovered:false</c>): then null.
    /// </summary>
    public static async Task<string?> ReadToEndOrReloadAsync(StreamingTestClient socket, Guid generation)
    {
        var frames = await socket.ReadGenerationUnlessAsync(generation, frame =>
            frame.GetProperty("type").GetString() == "stream.restored" && !frame.GetProperty("recovered").GetBoolean()
            && frame.GetProperty("generationIds").EnumerateArray().Any(g => g.GetGuid() == generation), TimeSpan.FromMinutes(3));
        if (frames is null)
        {
            return null;
        }
        AssertEndsOnce(frames.Select(f => (f.GetProperty("type").GetString()!, f.GetProperty("seq").GetInt64())).ToList(), interrupted: false);
        return string.Concat(frames.Select(f => f.TryGetProperty("delta", out var d) ? d.GetString() : null));
    }

    public static async Task<string> ReloadAsync(ApiTestClient api, Guid conversation, Guid generation)
    {
        using var response = await api.SendAsync(HttpMethod.Get, $"/api/v1/conversations/{conversation}/messages");
        var page = await ApiTestClient.JsonAsync(response);
        return page.GetProperty("items").EnumerateArray()
            .Single(m => m.TryGetProperty("generationId", out var g) && g.ValueKind == JsonValueKind.String && g.GetGuid() == generation)
            .GetProperty("content").GetString()!;
    }

    public static async Task DisposeAsync(IEnumerable<ReplySocket> clients)
    {
        foreach (var client in clients)
        {
            await client.Socket.DisposeAsync();
        }
    }

    /// <summary>seq 0..n+1 with no gap, one terminal frame and it last; interrupted ones end failed/interrupted.</summary>
    public static void AssertEndsOnce(IReadOnlyList<(string Type, long Seq)> frames, bool interrupted)
    {
        Assert.Equal(Enumerable.Range(0, frames.Count).Select(i => (long)i), frames.Select(f => f.Seq));
        Assert.Equal("generation.started", frames[0].Type);
        Assert.All(frames.Skip(1).SkipLast(1), f => Assert.Equal("chunk", f.Type));
        Assert.Equal(interrupted ? "generation.failed" : "generation.completed", frames[^1].Type);
    }
}
