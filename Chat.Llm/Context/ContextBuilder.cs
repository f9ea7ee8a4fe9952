using Chat.Llm.Providers;
using Microsoft.Extensions.AI;

namespace Chat.Llm.Context;

/// <summary>One stored message of a conversation, oldest first, as the context builder needs it (no EF types).
/// <c>Role</c> is <c>system</c>, <c>user</c> or <c>assistant</c>.</summary>
public sealed record HistoryMessage(Guid Id, string Role, string Content);

/// <summary>The prompt sent to a model and what it was built from (recorded on the assistant message).</summary>
public sealed record BuiltContext(
    IReadOnlyList<ChatMessage> Messages,
    IReadOnlyList<Guid> IncludedMessageIds,
    int PromptTokens,
    int Budget,
    int OmittedMessages,
    string TokenizerName);

/// <summary>
/// Builds a prompt: the system prompt, then the newest history messages (a contiguous suffix, in order) that fit the
/// model's context window less its reserved output (<see cref="ModelDescriptor.MaxOutputTokens"/>). Counting is
/// <see cref="TokenCounter"/>'s. The newest message must fit, else <see cref="LlmErrorCodes.ContextTooLarge"/>.
/// </summary>
public static class ContextBuilder
{
    public static BuiltContext Build(string? systemPrompt, IReadOnlyList<HistoryMessage> history, ModelDescriptor model, int? reservedOutputTokens = null)
    {
        var tokenizer = model.TokenizerName;
        var budget = model.ContextWindow - (reservedOutputTokens ?? model.MaxOutputTokens);
        var used = TokenCounter.PerPromptOverhead;
        ChatMessage? system = null;
        if (!string.IsNullOrWhiteSpace(systemPrompt))
        {
            system = new ChatMessage(ChatRole.System, systemPrompt);
            used += TokenCounter.CountMessage(tokenizer, systemPrompt);
        }

        if (used > budget)
        {
            throw new LlmException(LlmErrorCodes.ContextTooLarge, $"The system prompt alone exceeds the {budget}-token prompt budget of {model.Id}.");
        }

        var firstIncluded = history.Count;
        for (var i = history.Count - 1; i >= 0; i--)
        {
            var cost = TokenCounter.CountMessage(tokenizer, history[i].Content);
            if (used + cost > budget)
            {
                break;
            }

            used += cost;
            firstIncluded = i;
        }

        if (history.Count > 0 && firstIncluded == history.Count)
        {
            throw new LlmException(LlmErrorCodes.ContextTooLarge, $"The message exceeds the {budget}-token prompt budget of {model.Id}.");
        }

        var messages = new List<ChatMessage>(history.Count - firstIncluded + 1);
        if (system is not null)
        {
            messages.Add(system);
        }

        var ids = new List<Guid>(history.Count - firstIncluded);
        for (var i = firstIncluded; i < history.Count; i++)
        {
            messages.Add(new ChatMessage(ToRole(history[i].Role), history[i].Content));
            ids.Add(history[i].Id);
        }

        return new BuiltContext(messages, ids, used, budget, firstIncluded, tokenizer);
    }

    public static ChatRole ToRole(string role) => role.ToLowerInvariant() switch
    {
        "system" => ChatRole.System,
        "assistant" => ChatRole.Assistant,
        "user" => ChatRole.User,
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "Expected system, user or assistant."),
    };
}
