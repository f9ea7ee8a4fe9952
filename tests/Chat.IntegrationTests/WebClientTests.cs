using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace Chat.IntegrationTests;

/// <summary>The web client, as a person uses it, in headless Chromium against the real app host.</summary>
[Collection(ChatAppCollection.Name)]
public sealed class WebClientTests(ChatAppFixture app, BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private const float Timeout = 30_000;

    [Fact]
    public async Task SignInCreateConversationAndSeeStreamedReplyComplete()
    {
        var (page, user) = await SignedInPageAsync();
        await NewConversationAsync(page);

        await page.FillAsync("#input", "Hello from the browser");
        await page.PressAsync("#input", "Enter");

        var reply = page.Locator(".message.assistant:not(.streaming)").Last;
        await Assertions.Expect(reply).ToContainTextAsync("Hello from the browser", new() { Timeout = Timeout });
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "conversation.png") });

        // What the person saw is what was persisted.
        var shown = Normalize(await reply.Locator(".body").InnerTextAsync());
        var conversationId = Regex.Match(page.Url, "#/c/([0-9a-f-]{36})").Groups[1].Value;
        var stored = await AssistantContentAsync(user, conversationId);
        Assert.Equal(Normalize(stored), shown);
    }

    [Fact]
    public async Task StopButtonCancelsTheReplyAndThePartialTextIsKept()
    {
        var (page, user) = await SignedInPageAsync();
        await NewConversationAsync(page);

        await page.FillAsync("#input", "Tell me a long story");
        await page.PressAsync("#input", "Enter");
        var streaming = page.Locator(".message.assistant.streaming .body");
        await Assertions.Expect(streaming).ToContainTextAsync("chat-dev", new() { Timeout = Timeout });
        await page.ClickAsync("#stop");

        var cancelled = page.Locator(".message.assistant.cancelled");
        await Assertions.Expect(cancelled).ToHaveCountAsync(1, new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#stop")).ToBeHiddenAsync();
        var shown = Normalize(await cancelled.Locator(".body").InnerTextAsync());
        var conversationId = Regex.Match(page.Url, "#/c/([0-9a-f-]{36})").Groups[1].Value;
        Assert.Equal(Normalize(await AssistantContentAsync(user, conversationId)), shown);
        Assert.Equal("cancelled", await ApiTestClient.ScalarAsync<string>(app,
            "SELECT status FROM chat_messages WHERE conversation_id = @id AND role = 'assistant'", ("id", Guid.Parse(conversationId))));
    }

    [Fact]
    public async Task ReloadDuringAReplyResumesWithoutDuplicatedText()
    {
        var (page, user) = await SignedInPageAsync();
        await NewConversationAsync(page);

        await page.FillAsync("#input", "Keep going while I reload");
        await page.PressAsync("#input", "Enter");
        await Assertions.Expect(page.Locator(".message.assistant.streaming .body")).ToContainTextAsync("chat-dev", new() { Timeout = Timeout });
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "streaming.png") });

        await page.ReloadAsync();

        var reply = page.Locator(".message.assistant:not(.streaming)").Last;
        await Assertions.Expect(reply).ToContainTextAsync("Keep going while I reload", new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator(".message.assistant")).ToHaveCountAsync(1);
        var conversationId = Regex.Match(page.Url, "#/c/([0-9a-f-]{36})").Groups[1].Value;
        var stored = await AssistantContentAsync(user, conversationId);
        Assert.Equal(Normalize(stored), Normalize(await reply.Locator(".body").InnerTextAsync()));
    }

    [Fact]
    public async Task ArchiveUnarchiveDeleteAndRestoreFromTheConversationView()
    {
        var (page, _) = await SignedInPageAsync();
        await NewConversationAsync(page);

        await page.ClickAsync("#archive");
        await Assertions.Expect(page.Locator("#archive")).ToHaveTextAsync("Unarchive", new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#input")).ToBeDisabledAsync();
        await page.ClickAsync("#archive");
        await Assertions.Expect(page.Locator("#archive")).ToHaveTextAsync("Archive", new() { Timeout = Timeout });

        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await page.ClickAsync("#delete");
        await Assertions.Expect(page.Locator("#restore")).ToBeVisibleAsync(new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#conversations li.selected")).ToHaveCountAsync(0);
        await page.ClickAsync("#restore");
        await Assertions.Expect(page.Locator("#restore")).ToBeHiddenAsync(new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#conversations li.selected")).ToHaveCountAsync(1, new() { Timeout = Timeout });
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "conversation-list.png") });
    }

    [Fact]
    public async Task ScriptAndOnerrorInModelOutputRenderAsText()
    {
        var (page, _) = await SignedInPageAsync();
        await NewConversationAsync(page);
        var dialogs = 0;
        page.Dialog += (_, dialog) => { dialogs++; _ = dialog.DismissAsync(); };

        const string attack = "<img src=x onerror=\"window.__xss=1\"> <script>window.__xss=2</script>";
        await page.FillAsync("#input", attack);
        await page.PressAsync("#input", "Enter");

        var reply = page.Locator(".message.assistant:not(.streaming)").Last;
        await Assertions.Expect(reply).ToContainTextAsync("<script>", new() { Timeout = Timeout });
        Assert.Equal(0, await page.Locator(".message img, .message script").CountAsync());
        Assert.True(await page.EvaluateAsync<bool>("() => window.__xss === undefined"));
        Assert.Equal(0, dialogs);
    }

    private async Task<(IPage Page, string User)> SignedInPageAsync()
    {
        var context = await browser.Browser.NewContextAsync(new() { BaseURL = app.GatewayUri.ToString() });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(Timeout);
        page.Console += (_, message) => Console.WriteLine($"[browser {message.Type}] {message.Text}");
        var user = $"web-{Guid.NewGuid():N}"[..16];
        await page.GotoAsync("/");
        await page.FillAsync("#dev-form input[name=userId]", user);
        await page.FillAsync("#dev-form input[name=tenantId]", "web-tenant");
        await page.ClickAsync("#dev-form button[type=submit]");
        await Assertions.Expect(page.Locator("#app")).ToBeVisibleAsync(new() { Timeout = Timeout });
        return (page, user);
    }

    private static async Task NewConversationAsync(IPage page)
    {
        await page.ClickAsync("#new-conversation");
        await Assertions.Expect(page.Locator("#conversation-title")).ToHaveTextAsync("New conversation", new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#input")).ToBeEnabledAsync(new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#connection")).ToHaveTextAsync("Connected", new() { Timeout = Timeout });
    }

    private async Task<string> AssistantContentAsync(string user, string conversationId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/conversations/{conversationId}/messages?limit=50");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Create(user, "web-tenant"));
        using var response = await app.Gateway.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var page = await response.Content.ReadFromJsonAsync<JsonElement>();
        return page.GetProperty("items").EnumerateArray()
            .Last(m => m.GetProperty("role").GetString() == "assistant")
            .GetProperty("content").GetString()!;
    }

    private static string Normalize(string text) => Regex.Replace(text, @"\s+", " ").Trim();
}
