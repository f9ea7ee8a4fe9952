using Chat.StreamingSample;

namespace Chat.IntegrationTests;

/// <summary>The sample client library (samples/Chat.StreamingSample) does what docs/PROTOCOL.md promises.</summary>
[Collection(StreamingAppCollection.Name)]
public sealed class StreamingSampleClientTests(StreamingAppFixture fixture)
{
    [Fact]
    public async Task SampleClientSendsStreamsAndResumesAfterADroppedSocketWithEveryChunkOnce()
    {
        var (tenant, user) = ($"t-{Guid.NewGuid():N}", "sample");
        var token = TestTokens.Create(user, tenant);
        var conversationId = fixture.Api.AddConversation(tenant, user);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        await using var client = new ChatStreamClient(fixture.GatewayUri, _ => Task.FromResult(token));
        await client.ConnectAsync(cts.Token);
        var ack = await client.SendMessageAsync(conversationId, "hello", cts.Token);
        var generationId = Guid.Parse(ack["generationId"]!.ToString());

        var seqs = new List<long>();
        var text = "";
        await foreach (var frame in client.StreamAsync(conversationId, generationId, after: -1, cts.Token))
        {
            seqs.Add(frame["seq"]!.GetValue<long>());
            if (frame["type"]!.GetValue<string>() == "chunk")
            {
                text += frame["delta"]!.GetValue<string>();
                if (seqs.Count == 6)
                {
                    client.Abort();
                }
            }
        }

        var n = fixture.Api.ChunksPerGeneration;
        Assert.Equal(Enumerable.Range(0, n + 2).Select(i => (long)i), seqs);
        Assert.Equal(string.Concat(Enumerable.Range(1, n).Select(i => $"t{i} ")), text);
    }
}
