using System.Net.WebSockets;
using Xunit.Abstractions;

namespace Chat.IntegrationTests;

/// <summary>A replica going away mid-generation: its sockets close with 1012, the generation goes on, clients resume on the survivor.</summary>
[Collection(StreamingAppCollection.Name)]
public sealed class StreamingReplicaTests(StreamingAppFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task StoppingTheReplicaHoldingASocketClosesItWith1012AndTheClientResumesOnTheSurvivor()
    {
        var (tenant, user) = ($"t-{Guid.NewGuid():N}", "kim");
        var token = TestTokens.Create(user, tenant);
        var conversationId = fixture.Api.AddConversation(tenant, user);
        var generationId = Guid.CreateVersion7();
        var messageId = Guid.CreateVersion7();
        const int total = 300;

        var a = await fixture.ConnectAsync(token);
        await a.SendAsync(new { type = "subscribe", conversationId });
        await a.NextAsync("subscribed");
        var replica = await StreamingReplicas.ResourceOfAsync(fixture.App, a.Instance);
        output.WriteLine($"socket on {a.Instance} = {replica}");

        var publisher = Task.Run(async () =>
        {
            await fixture.Generations.PublishAsync(StreamingGenerations.Started(conversationId, generationId, messageId));
            for (var seq = 1; seq <= total; seq++)
            {
                await fixture.Generations.PublishAsync(StreamingGenerations.Chunk(conversationId, generationId, seq));
                await Task.Delay(20); // paces the publisher on purpose: still streaming when the replica stops
            }
            await fixture.Generations.PublishAsync(StreamingGenerations.Completed(conversationId, generationId, messageId, total + 1));
        });

        var received = new List<long>();
        try
        {
            while (received.Count == 0 || received[^1] < 20)
            {
                received.Add((await a.WaitForAsync(f => f.TryGetProperty("seq", out _))).GetProperty("seq").GetInt64());
            }
            using var stop = new CancellationTokenSource(ChatAppFixture.StepTimeout);
            // Not awaited for success: the replica stops at once, but on machines whose init does not reap orphans the
            // orchestrator may time out waiting for the exited process and report a failure. The socket says what happened.
            var stopping = fixture.App.ResourceCommands.ExecuteCommandAsync(replica, "resource-stop", stop.Token);

            // Everything the replica had queued arrives, then the close: 1012, service restart.
            while (true)
            {
                JsonElementOrEnd next;
                try
                {
                    next = new(await a.WaitForAsync(f => f.TryGetProperty("seq", out _), TimeSpan.FromSeconds(30)));
                }
                catch (System.Threading.Channels.ChannelClosedException)
                {
                    break;
                }
                received.Add(next.Frame.GetProperty("seq").GetInt64());
            }
            Assert.Equal((WebSocketCloseStatus)1012, await a.WaitClosedAsync());
            await a.DisposeAsync();
            var after = received[^1];
            Assert.True(after < total, "the generation was still running when the replica stopped");

            var b = await StreamingReplicas.ConnectToSurvivorAsync(fixture.GatewayUri, token, a.Instance);
            await using (b)
            {
                await b.SendAsync(new { type = "subscribe", conversationId, generationId, after });
                Assert.True((await b.NextAsync("subscribed")).GetProperty("recovered").GetBoolean());
                var rest = await b.ReadGenerationAsync(generationId);
                received.AddRange(rest.Select(f => f.GetProperty("seq").GetInt64()));
            }
            await publisher.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(Enumerable.Range(0, total + 2).Select(i => (long)i), received);
            var stopped = await stopping;
            output.WriteLine($"resource-stop: success={stopped.Success} {stopped.Message}");
        }
        finally
        {
            await StreamingReplicas.RestartAsync(fixture.App, fixture.GatewayUri, replica);
        }
    }

    private readonly record struct JsonElementOrEnd(System.Text.Json.JsonElement Frame);
}
