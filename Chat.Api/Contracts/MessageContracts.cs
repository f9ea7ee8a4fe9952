using Chat.Data.Entities;
using Microsoft.AspNetCore.Mvc;

namespace Chat.Api.Contracts;

/// <summary>
/// Body of <c>POST /api/v1/conversations/{id}/messages</c>. <c>clientMessageId</c> is the idempotency key: a retry
/// with the same key returns the first result and creates nothing.
/// </summary>
/// <summary>
/// The user's message. <c>model</c>/<c>provider</c> choose the model for this reply (else the conversation's, else the
/// default); <c>reply: false</c> stores the message without asking for a reply (importing, or composing several turns).
/// </summary>
public sealed record PostMessageRequest(string? Content, string? ClientMessageId, string? Model = null, string? Provider = null, bool? Reply = null);

public sealed record MessageResponse(
    Guid Id,
    Guid ConversationId,
    MessageRole Role,
    string Content,
    MessageStatus Status,
    string? ClientMessageId,
    string? Model,
    string? Provider,
    Guid? ParentMessageId,
    Guid? GenerationId,
    int? PromptTokens,
    int? CompletionTokens,
    int? TotalTokens,
    string? FinishReason,
    DateTimeOffset CreatedAt)
{
    /// <summary>A stored message as clients see it (a history page reads these columns only: <c>MessagePageSql</c>).</summary>
    public static MessageResponse From(Message m) => new(
        m.Id, m.ConversationId, m.Role, m.Content, m.Status, m.ClientMessageId, m.Model, m.Provider,
        m.ParentMessageId, m.GenerationId, m.PromptTokens, m.CompletionTokens, m.TotalTokens, m.FinishReason, m.CreatedAt);
}

/// <summary>
/// The result of posting a message: the stored user message now; <c>generation</c> is where the assistant's reply
/// (its generation id, status and stream) is announced once providers exist. Null until then.
/// </summary>
/// <summary>The user's message, and (when a reply was started) the generation and the assistant's message as it stands.</summary>
public sealed record PostMessageResponse(MessageResponse Message, GenerationResponse? Generation = null, MessageResponse? Assistant = null);

/// <summary>Reserved for the assistant's reply: which generation answers the message and where to stream it from.</summary>
/// <summary>A generation: its status (<c>streaming</c>, <c>completed</c>, <c>failed</c>, <c>cancelled</c>), where it ran and how long it took.</summary>
public sealed record GenerationResponse(
    Guid Id,
    string Status,
    Guid? AssistantMessageId,
    Guid? ConversationId = null,
    string? Model = null,
    string? Provider = null,
    int? TimeToFirstTokenMs = null,
    int? DurationMs = null,
    string? ErrorCode = null,
    string? EventsUrl = null)
{
    public static GenerationResponse From(Message assistant) => new(
        assistant.GenerationId!.Value,
        assistant.Status.ToString().ToLowerInvariant(),
        assistant.Id,
        assistant.ConversationId,
        assistant.Model,
        assistant.Provider,
        assistant.TimeToFirstTokenMs,
        assistant.DurationMs,
        assistant.ErrorCode,
        $"/api/v1/generations/{assistant.GenerationId:D}/events");
}

/// <summary>One page of messages in conversation order (oldest first).</summary>
/// <param name="Items">The messages, ordered by (createdAt, id).</param>
/// <param name="NextCursor">
/// Continues in the direction of the request: pass it as <c>after</c> when the page was read forwards (no cursor or
/// <c>after</c>), as <c>before</c> when it was read backwards (<c>before</c> or <c>latest</c>). Null when there is
/// nothing more that way.
/// </param>
public sealed record MessagePage(IReadOnlyList<MessageResponse> Items, string? NextCursor);

/// <summary>Query of <c>GET /api/v1/conversations/{id}/messages</c>.</summary>
/// <param name="Limit">1–100, default 50.</param>
/// <param name="Before">A cursor: read the page just before it (still returned oldest first).</param>
/// <param name="After">A cursor: read the page just after it.</param>
/// <param name="Latest">true: the newest page (oldest first within it); its cursor continues as <c>before</c>.</param>
public sealed record ListMessagesQuery(
    [property: FromQuery(Name = "limit")] int? Limit,
    [property: FromQuery(Name = "before")] string? Before,
    [property: FromQuery(Name = "after")] string? After,
    [property: FromQuery(Name = "latest")] bool? Latest);

/// <summary><c>GET /api/v1/models</c>: what a caller may name as <c>model</c> / <c>provider</c>.</summary>
public sealed record ModelsResponse(IReadOnlyList<Chat.Llm.Providers.ModelListing> Items);
