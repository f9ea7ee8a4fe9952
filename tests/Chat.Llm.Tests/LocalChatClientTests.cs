using System.Diagnostics;
using Chat.Llm.Local;
using Chat.Llm.Options;
using Microsoft.Extensions.AI;

namespace Chat.Llm.Tests;

/// <summary>Timing assertions: never faster than configured, and late by at most a loaded machine's scheduling slack.
/// Run alone (no parallel test classes) so other tests do not steal the CPU.</summary>
[Collection(PacingCollection.Name)]
public sealed class LocalChatClientTests
{
    private static readonly ChatMessage[] s_prompt = [new(ChatRole.System, "sys"), new(ChatRole.User, "What is   the capital of France?")];

    private static async Task<(List<ChatResponseUpdate> Updates, List<long> ArrivalMs)> StreamAsync(LocalChatClient client)
    {
        var sw = Stopwatch.StartNew();
        var updates = new List<ChatResponseUpdate>();
        var arrivals = new List<long>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await foreach (var u in client.GetStreamingResponseAsync(s_prompt, null, timeout.Token))
        {
            updates.Add(u);
            arrivals.Add(sw.ElapsedMilliseconds);
        }

        return (updates, arrivals);
    }

    [Fact]
    public async Task SamePromptGivesTheSameLabelledReplyQuotingIt()
    {
        var options = new LocalModelOptions { TimeToFirstTokenMs = 0, TokensPerSecond = 10_000 };

        var first = await new LocalChatClient(options).GetResponseAsync(s_prompt);
        var second = await new LocalChatClient(options).GetResponseAsync(s_prompt);

        Assert.Equal(first.Text, second.Text);
        Assert.StartsWith(LocalChatClient.Label, first.Text);
        Assert.Contains("\"What is the capital of France?\"", first.Text);
        Assert.Equal(ChatFinishReason.Stop, first.FinishReason);
        Assert.Equal(first.Text.Split(' ').Length, (int)first.Usage!.OutputTokenCount!);
    }

    [Fact]
    public async Task StreamingFollowsTimeToFirstTokenAndTokensPerSecond()
    {
        var options = new LocalModelOptions { TimeToFirstTokenMs = 300, TokensPerSecond = 100, ChunkTokens = 1, MinReplyTokens = 60 };
        var client = new LocalChatClient(options);

        var (updates, arrivals) = await StreamAsync(client);

        var textUpdates = updates.Count(u => !string.IsNullOrEmpty(u.Text));
        Assert.Equal(client.ReplyTokens(s_prompt).Count, textUpdates);
        Assert.InRange(arrivals[0], 290, 300 + 1000);
        // Token i is due at 300 + i * 10 ms: the last of N at 300 + (N - 1) * 10.
        var expectedLast = 300 + ((textUpdates - 1) * 10);
        Assert.InRange(arrivals[textUpdates - 1], expectedLast - 15, expectedLast + 1000);
        // Never ahead of schedule: the k-th text update not before 300 + k * 10 ms.
        Assert.All(Enumerable.Range(0, textUpdates), k => Assert.True(arrivals[k] >= 300 + (k * 10) - 15, $"update {k} at {arrivals[k]} ms"));
    }

    [Fact]
    public async Task ChunkTokensGroupsTokensPerUpdate()
    {
        var options = new LocalModelOptions { TimeToFirstTokenMs = 0, TokensPerSecond = 10_000, ChunkTokens = 5, MinReplyTokens = 50 };
        var client = new LocalChatClient(options);

        var (updates, _) = await StreamAsync(client);

        var tokens = client.ReplyTokens(s_prompt);
        var text = updates.Where(u => !string.IsNullOrEmpty(u.Text)).ToList();
        Assert.Equal((tokens.Count + 4) / 5, text.Count);
        Assert.Equal(string.Concat(tokens), string.Concat(text.Select(u => u.Text)));
        Assert.True(tokens.Count >= 50);
    }

    [Fact]
    public async Task MaxOutputTokensTruncatesWithLengthFinishReason()
    {
        var client = new LocalChatClient(new LocalModelOptions { TimeToFirstTokenMs = 0, TokensPerSecond = 10_000 });

        var response = await client.GetResponseAsync(s_prompt, new ChatOptions { MaxOutputTokens = 5 });

        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(5, response.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PacingCollection
{
    public const string Name = "pacing";
}
