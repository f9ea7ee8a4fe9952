using Chat.Llm.Context;
using Chat.Llm.Providers;
using Microsoft.Extensions.AI;

namespace Chat.Llm.Tests;

public sealed class ContextBuilderTests
{
    private static readonly ModelDescriptor s_gpt4o = new("openai", ProviderTypes.OpenAI, "gpt-4o-mini", [], ContextWindow: 2000, MaxOutputTokens: 500,
        TokenCounter.ChooseTokenizer(ProviderTypes.OpenAI, "gpt-4o-mini", null));

    private static List<HistoryMessage> LongHistory(int turns) =>
        Enumerable.Range(0, turns).Select(i => new HistoryMessage(
            Guid.CreateVersion7(),
            i % 2 == 0 ? "user" : "assistant",
            $"Turn {i}: " + string.Join(' ', Enumerable.Repeat($"word{i} lorem ipsum dolor sit amet", 8)))).ToList();

    [Fact]
    public void LongHistoryFitsBudgetKeepingNewestTurnsAndSystemPrompt()
    {
        var history = LongHistory(200);

        var context = ContextBuilder.Build("You are a helpful assistant.", history, s_gpt4o);

        Assert.Equal(1500, context.Budget);
        Assert.InRange(context.PromptTokens, 1, context.Budget);
        Assert.Equal(ChatRole.System, context.Messages[0].Role);
        Assert.Equal("You are a helpful assistant.", context.Messages[0].Text);
        Assert.True(context.OmittedMessages > 0);
        // The newest messages, contiguous, in order.
        Assert.Equal(history.TakeLast(context.IncludedMessageIds.Count).Select(h => h.Id), context.IncludedMessageIds);
        Assert.Equal(history[^1].Content, context.Messages[^1].Text);
        // One more (older) message would not have fitted.
        var older = history[history.Count - context.IncludedMessageIds.Count - 1];
        Assert.True(context.PromptTokens + TokenCounter.CountMessage(context.TokenizerName, older.Content) > context.Budget);
    }

    // Token counts of fixed strings from tiktoken itself, not from the code under test: "hello world" is 2 tokens in both
    // encodings; "お誕生日おめでとう" is 9 in cl100k_base and 8 in o200k_base (OpenAI cookbook, "How to count tokens with
    // tiktoken"); "The quick brown fox jumps over the lazy dog." is 10 in o200k_base.
    private const string Japanese = "お誕生日おめでとう";
    private const string Fox = "The quick brown fox jumps over the lazy dog.";

    [Fact]
    public void RecordedTokenCountIsTheMessagesTokensPlusTheChatOverheads()
    {
        List<HistoryMessage> history = [new(Guid.CreateVersion7(), "user", "hello world"), new(Guid.CreateVersion7(), "assistant", Fox)];

        var context = ContextBuilder.Build("hello world", history, s_gpt4o);

        // 3 (reply priming) + (2 + 4) system + (2 + 4) user + (10 + 4) assistant.
        Assert.Equal(29, context.PromptTokens);
    }

    [Theory]
    [InlineData(ProviderTypes.OpenAI, "gpt-4o-mini", 8)]
    [InlineData(ProviderTypes.OpenAI, "gpt-4.1", 8)]
    [InlineData(ProviderTypes.OpenAI, "gpt-5", 8)]
    [InlineData(ProviderTypes.OpenAI, "o3-mini", 8)]
    [InlineData(ProviderTypes.AzureOpenAI, "gpt-4-turbo", 9)]
    [InlineData(ProviderTypes.OpenAI, "gpt-3.5-turbo", 9)]
    public void OpenAiModelsAreCountedWithTheirOwnEncoding(string type, string model, int expected)
    {
        var tokenizer = TokenCounter.ChooseTokenizer(type, model, null);

        Assert.Equal(expected, TokenCounter.CountText(tokenizer, Japanese));
        Assert.Equal(2, TokenCounter.CountText(tokenizer, "hello world"));
    }

    [Theory]
    [InlineData(ProviderTypes.Anthropic, "claude-sonnet-4-5")]
    [InlineData(ProviderTypes.OpenAICompatible, "deepseek-chat")]
    [InlineData(ProviderTypes.Ollama, "llama3.2")]
    [InlineData(ProviderTypes.AzureOpenAI, "my-deployment")]
    public void ModelsTiktokenDoesNotKnowUseTheEstimate(string type, string model)
    {
        var tokenizer = TokenCounter.ChooseTokenizer(type, model, null);

        Assert.Equal(TokenCounter.Estimate, tokenizer);
        // o200k_base plus 10 %, rounded up: 8 → 9, 2 → 3, 10 → 11.
        Assert.Equal(9, TokenCounter.CountText(tokenizer, Japanese));
        Assert.Equal(3, TokenCounter.CountText(tokenizer, "hello world"));
        Assert.Equal(11, TokenCounter.CountText(tokenizer, Fox));
    }

    [Fact]
    public void AConfiguredEncodingWins() =>
        Assert.Equal(9, TokenCounter.CountText(TokenCounter.ChooseTokenizer(ProviderTypes.OpenAICompatible, "anything", "cl100k_base"), Japanese));

    [Fact]
    public void NewestMessageLargerThanBudgetIsRejected()
    {
        var huge = new HistoryMessage(Guid.CreateVersion7(), "user", string.Join(' ', Enumerable.Repeat("overflow", 3000)));

        var error = Assert.Throws<LlmException>(() => ContextBuilder.Build(null, [huge], s_gpt4o));

        Assert.Equal(LlmErrorCodes.ContextTooLarge, error.Code);
    }

    [Fact]
    public void ShortHistoryIsSentWhole()
    {
        var history = LongHistory(3);

        var context = ContextBuilder.Build(null, history, s_gpt4o);

        Assert.Equal(history.Select(h => h.Id), context.IncludedMessageIds);
        Assert.Equal(0, context.OmittedMessages);
        Assert.Equal([ChatRole.User, ChatRole.Assistant, ChatRole.User], context.Messages.Select(m => m.Role));
    }
}
