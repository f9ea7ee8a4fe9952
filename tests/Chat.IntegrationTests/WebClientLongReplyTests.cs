using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Chat.IntegrationTests;

/// <summary>
/// The web client during a reply that lasts ~20 s (the fault fixture's model): stop and reload land while the reply is
/// still streaming however slow the machine, so neither test can pass on a reply that already ended.
/// </summary>
[Collection(GenerationFaultCollection.Name)]
public sealed class WebClientLongReplyTests(GenerationFaultFixture fixture, BrowserFixture browser, ITestOutputHelper output)
    : IClassFixture<BrowserFixture>
{
    private const float Timeout = WebClientPages.Timeout;
    private const float ReplyTimeout = 120_000;
    private readonly WebClientPages _pages = new(fixture, browser, output);

    [Fact]
    public async Task StopButtonCancelsTheReplyAndThePartialTextIsKept()
    {
        var (page, user) = await _pages.SignedInPageAsync();
        await WebClientPages.NewConversationAsync(page);

        await page.FillAsync("#input", "Tell me a long story");
        await page.PressAsync("#input", "Enter");
        var streaming = page.Locator(".message.assistant.streaming .body");
        await Assertions.Expect(streaming).ToContainTextAsync("chat-dev", new() { Timeout = Timeout });
        await page.ClickAsync("#stop");

        var cancelled = page.Locator(".message.assistant.cancelled");
        await Assertions.Expect(cancelled).ToHaveCountAsync(1, new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#stop")).ToBeHiddenAsync();
        var shown = WebClientPages.Normalize(await cancelled.Locator(".body").InnerTextAsync());
        var conversationId = WebClientPages.ConversationIdOf(page);
        Assert.Equal(WebClientPages.Normalize(await _pages.AssistantContentAsync(user, conversationId)), shown);
        Assert.Equal("cancelled", await ApiTestClient.ScalarAsync<string>(fixture,
            "SELECT status FROM chat_messages WHERE conversation_id = @id AND role = 'assistant'", ("id", Guid.Parse(conversationId))));
    }

    [Fact]
    public async Task ReloadDuringAReplyResumesWithoutDuplicatedText()
    {
        var (page, user) = await _pages.SignedInPageAsync();
        await WebClientPages.NewConversationAsync(page);

        await page.FillAsync("#input", "Keep going while I reload");
        await page.PressAsync("#input", "Enter");
        await Assertions.Expect(page.Locator(".message.assistant.streaming .body")).ToContainTextAsync("chat-dev", new() { Timeout = Timeout });
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "streaming.png") });

        await page.ReloadAsync();
        await Assertions.Expect(page.Locator(".message.assistant.streaming")).ToHaveCountAsync(1); // resumed, not yet ended

        var reply = page.Locator(".message.assistant:not(.streaming)").Last;
        await Assertions.Expect(reply).ToContainTextAsync("Keep going while I reload", new() { Timeout = ReplyTimeout });
        await Assertions.Expect(page.Locator(".message.assistant")).ToHaveCountAsync(1);
        var conversationId = WebClientPages.ConversationIdOf(page);
        var stored = await _pages.AssistantContentAsync(user, conversationId);
        Assert.Equal(WebClientPages.Normalize(stored), WebClientPages.Normalize(await reply.Locator(".body").InnerTextAsync()));
    }
}
