using Chat.Data.Entities;
using Microsoft.AspNetCore.Mvc;

namespace Chat.Api.Contracts;

/// <summary>Body of <c>POST /api/v1/conversations</c>; every field is optional.</summary>
public sealed record CreateConversationRequest(string? Title, string? Model, string? Provider, string? SystemPrompt);

/// <summary>
/// Body of <c>PATCH /api/v1/conversations/{id}</c>. A field that is omitted or <c>null</c> is left unchanged; an
/// empty string clears it.
/// </summary>
public sealed record UpdateConversationRequest(string? Title, string? Model, string? Provider, string? SystemPrompt);

public sealed record ConversationResponse(
    Guid Id,
    string? Title,
    string? Model,
    string? Provider,
    string? SystemPrompt,
    ConversationStatus Status,
    int MessageCount,
    DateTimeOffset? LastMessageAt,
    DateTimeOffset LastActivityAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? DeletedAt)
{
    public static ConversationResponse From(Conversation c) => new(
        c.Id, c.Title, c.Model, c.Provider, c.SystemPrompt, c.Status, c.MessageCount, c.LastMessageAt,
        c.LastActivityAt, c.CreatedAt, c.UpdatedAt, c.DeletedAt);
}

/// <summary>One page of conversations, most recent activity first; <c>nextCursor</c> is null on the last page.</summary>
public sealed record ConversationPage(IReadOnlyList<ConversationResponse> Items, string? NextCursor);

/// <summary>Query of <c>GET /api/v1/conversations</c>.</summary>
/// <param name="Limit">1–100, default 20.</param>
/// <param name="Cursor">The <c>nextCursor</c> of the previous page; opaque.</param>
/// <param name="Status"><c>active</c> (default) or <c>archived</c>.</param>
public sealed record ListConversationsQuery(
    [property: FromQuery(Name = "limit")] int? Limit,
    [property: FromQuery(Name = "cursor")] string? Cursor,
    [property: FromQuery(Name = "status")] string? Status);
