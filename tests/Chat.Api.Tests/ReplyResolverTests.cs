using Chat.Api.Extensions;
using Chat.Api.Services;
using Chat.Llm;
using Chat.Llm.Generation;
using Microsoft.Extensions.Options;

namespace Chat.Api.Tests;

/// <summary>The one mapping from a send to its <see cref="ReplyState"/>, which REST, SSE and <c>/v1</c> each render.</summary>
public sealed class ReplyResolverTests
{
    private static ReplyResolver Resolver(TimeSpan wait) =>
        new(Options.Create(new MessagesOptions { SyncReplyTimeout = wait }), TimeProvider.System);

    private static GenerationOutcome Outcome(GenerationStatus status, string? code = null) => new()
    {
        ConversationId = Guid.Empty, GenerationId = Guid.Empty, AssistantMessageId = Guid.Empty, Status = status, Text = "",
        Model = "m", Provider = "p", DurationMs = 0, ChunkCount = 0, Attempts = [], ErrorCode = code,
    };

    private static ReplyStart Started(Task<GenerationOutcome> completion) => new(ReplyOutcome.Started, Completion: completion);

    [Fact]
    public async Task AReplyStillRunningWhenTheWaitEndsIsStillRunning()
    {
        var never = new TaskCompletionSource<GenerationOutcome>().Task;

        var result = await Resolver(TimeSpan.FromMilliseconds(10)).ResolveAsync(Started(never), ReplyResult.Delivery.Wait, CancellationToken.None);

        Assert.Equal(ReplyState.StillRunning, result.State);
        Assert.Null(result.Outcome);
        Assert.Null(result.ErrorCode);
    }

    [Theory]
    [InlineData(GenerationStatus.Completed, null, ReplyState.Completed, null)]
    [InlineData(GenerationStatus.Failed, "upstream_error", ReplyState.Failed, "upstream_error")]
    [InlineData(GenerationStatus.Interrupted, "interrupted", ReplyState.Failed, "interrupted")]
    [InlineData(GenerationStatus.Failed, null, ReplyState.Failed, "failed")]
    [InlineData(GenerationStatus.Cancelled, null, ReplyState.Cancelled, null)]
    public async Task AnEndedReplyIsItsOutcome(GenerationStatus status, string? code, ReplyState expected, string? expectedCode)
    {
        var result = await Resolver(TimeSpan.FromMinutes(1)).ResolveAsync(
            Started(Task.FromResult(Outcome(status, code))), ReplyResult.Delivery.Wait, CancellationToken.None);

        Assert.Equal(expected, result.State);
        Assert.Equal(expectedCode, result.ErrorCode);
    }

    [Theory]
    [InlineData(ReplyResult.Delivery.Stream, ReplyState.Streaming)]
    [InlineData(ReplyResult.Delivery.Async, ReplyState.Accepted)]
    public async Task AStreamedOrAsynchronousReplyIsNotWaitedFor(ReplyResult.Delivery delivery, ReplyState expected)
    {
        var never = new TaskCompletionSource<GenerationOutcome>().Task;

        var result = await Resolver(TimeSpan.FromMinutes(1)).ResolveAsync(Started(never), delivery, CancellationToken.None);

        Assert.Equal(expected, result.State);
    }

    [Theory]
    [InlineData(ReplyOutcome.NotFound, ReplyState.NotFound)]
    [InlineData(ReplyOutcome.Archived, ReplyState.Archived)]
    [InlineData(ReplyOutcome.QueueFull, ReplyState.QueueFull)]
    [InlineData(ReplyOutcome.Stored, ReplyState.Stored)]
    [InlineData(ReplyOutcome.Existing, ReplyState.Existing)]
    public async Task ARefusalOrAStoredMessageIsAnsweredAtOnce(ReplyOutcome outcome, ReplyState expected)
    {
        var result = await Resolver(TimeSpan.FromMinutes(1)).ResolveAsync(new ReplyStart(outcome), ReplyResult.Delivery.Wait, CancellationToken.None);

        Assert.Equal(expected, result.State);
    }

    [Fact]
    public async Task ARouteFailureCarriesItsCode()
    {
        var start = new ReplyStart(ReplyOutcome.RouteFailed, Error: new LlmException("model_not_found", "No such model."));

        var result = await Resolver(TimeSpan.FromMinutes(1)).ResolveAsync(start, ReplyResult.Delivery.Wait, CancellationToken.None);

        Assert.Equal(ReplyState.RouteFailed, result.State);
        Assert.Equal("model_not_found", result.ErrorCode);
    }
}
