using System.Net.WebSockets;
using System.Text.Json;

namespace Chat.IntegrationTests;

/// <summary>
/// A chat-streaming replica stopped while it relays a live reply: the generation goes on in chat-api and the client
/// resumes on the surviving replica. Runs on the fault fixture, whose replies last ~20 s, so the reply is still under
/// way when the stop lands even on a loaded machine.
/// </summary>
[Collection(GenerationFaultCollection.Name)]
public sealed class StreamingReplicaStopTests(GenerationFaultFixture fixture)
{
    [Fact]
    public async Task StoppingTheReplicaHoldingTheSenderDoesNotStopTheGenerationAndTheClientResumesOnTheSurvivor()
    {
        var api = new ApiTestClient(fixture);
        var reply = (await ReplySockets.StartAsync(fixture, api, count: 1)).Single();
        var a = reply.Socket;
        var replica = await StreamingReplicas.ResourceOfAsync(fixture.App, a.Instance);
        try
        {
            var frames = new List<JsonElement>();
            while (frames.Count == 0 || Seq(frames[^1]) < 5)
            {
                frames.Add(await a.WaitForAsync(f => f.TryGetProperty("seq", out _)));
            }

            // Stop a's replica mid-reply: everything it had queued arrives, then the close (1012, service restart).
            using var stop = new CancellationTokenSource(ChatAppFixture.StepTimeout);
            var stopping = fixture.App.ResourceCommands.ExecuteCommandAsync(replica, "resource-stop", stop.Token);
            while (true)
            {
                try
                {
                    frames.Add(await a.WaitForAsync(f => f.TryGetProperty("seq", out _), TimeSpan.FromSeconds(30)));
                }
                catch (System.Threading.Channels.ChannelClosedException)
                {
                    break;
                }
            }
            Assert.Equal((WebSocketCloseStatus)1012, await a.WaitClosedAsync());
            Assert.Equal("chunk", frames[^1].GetProperty("type").GetString());

            await using var b = await StreamingReplicas.ConnectToSurvivorAsync(fixture.GatewayUri, api.Token, a.Instance);
            await b.SendAsync(new { type = "subscribe", conversationId = reply.Conversation, generationId = reply.Generation, after = Seq(frames[^1]) });
            Assert.True((await b.NextAsync("subscribed")).GetProperty("recovered").GetBoolean());
            frames.AddRange(await b.ReadGenerationAsync(reply.Generation));
            await stopping;

            ReplySockets.AssertEndsOnce(frames.Select(f => (f.GetProperty("type").GetString()!, Seq(f))).ToList(), interrupted: false);
            var streamed = string.Concat(frames.Select(f => f.TryGetProperty("delta", out var d) ? d.GetString() : null));
            Assert.Equal(streamed, await ReplySockets.ReloadAsync(api, reply.Conversation, reply.Generation));
        }
        finally
        {
            await a.DisposeAsync();
            await StreamingReplicas.RestartAsync(fixture.App, fixture.GatewayUri, replica);
        }
    }

    private static long Seq(JsonElement frame) => frame.GetProperty("seq").GetInt64();
}
