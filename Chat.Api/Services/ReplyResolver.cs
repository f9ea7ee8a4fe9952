using Chat.Api.Extensions;
using Chat.Api.Infrastructure;
using Microsoft.Extensions.Options;

namespace Chat.Api.Services;

/// <summary>
/// The one place a started reply is turned into a <see cref="ReplyResult"/>: refusals as they are, a streamed or
/// asynchronous one at once, a waited-for one when it ends or when <see cref="MessagesOptions.SyncReplyTimeout"/> has
/// passed (<see cref="ReplyState.StillRunning"/>; the generation goes on whatever the caller does).
/// </summary>
public sealed class ReplyResolver(IOptions<MessagesOptions> options, TimeProvider time)
{
    /// <summary>
    /// Resolves a start for the request <paramref name="http"/>: a live feed is disposed with the response, and a started
    /// reply lifts the request's database bound, as from here the request waits for the model, whose own limits bound it.
    /// </summary>
    public Task<ReplyResult> ResolveAsync(HttpContext http, ReplyStart start, ReplyResult.Delivery delivery, CancellationToken cancellationToken)
    {
        if (start.Live is { } live)
        {
            http.Response.RegisterForDispose(live);
        }
        if (start.Outcome == ReplyOutcome.Started)
        {
            DatabaseUnavailable.LiftBound(http);
        }
        return ResolveAsync(start, delivery, cancellationToken);
    }

    public async Task<ReplyResult> ResolveAsync(ReplyStart start, ReplyResult.Delivery delivery, CancellationToken cancellationToken)
    {
        var result = ReplyResult.Of(start, delivery);
        if (result.State != ReplyState.StillRunning)
        {
            return result;
        }
        try
        {
            return ReplyResult.Ended(start, await start.Completion!.WaitAsync(options.Value.SyncReplyTimeout, time, cancellationToken));
        }
        catch (TimeoutException)
        {
            return result;
        }
    }
}
