using System.Diagnostics;
using Xunit.Abstractions;

namespace Chat.IntegrationTests;

/// <summary>Smoke load: many sockets on one replica while a generation streams to all of them.</summary>
[Collection(StreamingAppCollection.Name)]
public sealed class StreamingLoadTests(StreamingAppFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task ThousandSocketsOnOneReplicaEachReceiveEveryFrameInOrder()
    {
        const int sockets = 1000;
        const int chunks = 20;
        var (tenant, user) = ($"t-{Guid.NewGuid():N}", "load");
        var token = TestTokens.Create(user, tenant);
        var conversationId = fixture.Api.AddConversation(tenant, user);
        var clock = Stopwatch.StartNew();

        var first = await fixture.ConnectAsync(token);
        var target = first.Instance;
        var held = new List<StreamingTestClient> { first };
        var elsewhere = 0;
        try
        {
            // The gateway spreads sockets over both replicas; keep the ones that landed on the target replica.
            while (held.Count < sockets)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), $"only {held.Count} sockets on {target} after 3 minutes");
                var batch = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => fixture.ConnectAsync(token)));
                foreach (var client in batch)
                {
                    if (client.Instance == target && held.Count < sockets)
                    {
                        held.Add(client);
                    }
                    else
                    {
                        elsewhere++;
                        await client.DisposeAsync();
                    }
                }
            }
            var connected = clock.Elapsed;

            await Task.WhenAll(held.Select(async c =>
            {
                await c.SendAsync(new { type = "subscribe", conversationId });
                await c.NextAsync("subscribed", TimeSpan.FromSeconds(60));
            }));
            var subscribed = clock.Elapsed;

            var generationId = Guid.CreateVersion7();
            await fixture.Generations.PublishWholeAsync(conversationId, generationId, chunks, TimeSpan.FromMilliseconds(10));
            var results = await Task.WhenAll(held.Select(c => c.ReadGenerationAsync(generationId, TimeSpan.FromSeconds(60))));
            var streamed = clock.Elapsed;

            Assert.All(results, frames =>
                Assert.Equal(Enumerable.Range(0, chunks + 2).Select(i => (long)i), frames.Select(f => f.GetProperty("seq").GetInt64())));
            Assert.All(held, c => Assert.Equal(target, c.Instance));
            Assert.All(held, c => Assert.Equal(System.Net.WebSockets.WebSocketState.Open, c.Socket.State));
            output.WriteLine($"{sockets} sockets on {target} ({elsewhere} landed elsewhere): connected {connected.TotalSeconds:F1}s, " +
                $"subscribed {(subscribed - connected).TotalSeconds:F1}s, {chunks + 2} frames to all {(streamed - subscribed).TotalSeconds:F1}s");
        }
        finally
        {
            await Task.WhenAll(held.Select(c => c.DisposeAsync().AsTask()));
        }
    }
}
