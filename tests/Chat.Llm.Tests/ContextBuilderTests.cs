using Chat.Llm.Context;
using Chat.Llm.Providers;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

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

    [Fact]
    public void RecordedTokenCountEqualsTheTokenizersCount()
    {
        var history = LongHistory(40);
        var context = ContextBuilder.Build("System rules.", history, s_gpt4o);

        // Recount independently with the o200k_base tokenizer gpt-4o-mini uses.
        var tokenizer = TiktokenTokenizer.CreateForModel("gpt-4o-mini");
        var expected = 3 + context.Messages.Sum(m => tokenizer.CountTokens(m.Text) + 4);

        Assert.Equal(TokenCounter.O200k, context.TokenizerName);
        Assert.Equal(expected, context.PromptTokens);
    }

    [Fact]
    public void Gpt4ModelsAreCountedWithCl100k()
    {
        Assert.Equal(TokenCounter.Cl100k, TokenCounter.ChooseTokenizer(ProviderTypes.AzureOpenAI, "gpt-4-turbo", null));
        Assert.Equal(TokenCounter.O200k, TokenCounter.ChooseTokenizer(ProviderTypes.OpenAI, "gpt-4.1", null));
        Assert.Equal(TokenCounter.Estimate, TokenCounter.ChooseTokenizer(ProviderTypes.Anthropic, "claude-sonnet-4-5", null));
        Assert.Equal(TokenCounter.Cl100k, TokenCounter.ChooseTokenizer(ProviderTypes.OpenAICompatible, "anything", "cl100k_base"));
    }

    [Fact]
    public void NonOpenAiModelsUseTheDocumentedEstimate()
    {
        const string text = "Bonjour, comment ça va aujourd'hui? Let's write some code: for (var i = 0; i < 10; i++) { }";
        var exact = TiktokenTokenizer.CreateForEncoding("o200k_base").CountTokens(text);

        Assert.Equal((int)Math.Ceiling(exact * 1.10), TokenCounter.CountText(TokenCounter.Estimate, text));
    }

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
