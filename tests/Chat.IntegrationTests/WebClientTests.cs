using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Chat.IntegrationTests;

/// <summary>The web client, as a person uses it, in headless Chromium against the real app host.</summary>
[Collection(ChatAppCollection.Name)]
public sealed class WebClientTests(ChatAppFixture app, BrowserFixture browser, ITestOutputHelper output) : IClassFixture<BrowserFixture>
{
    private const float Timeout = WebClientPages.Timeout;
    private readonly WebClientPages _pages = new(app, browser, output);

    [Fact]
    public async Task SignInCreateConversationAndSeeStreamedReplyComplete()
    {
        var (page, user) = await _pages.SignedInPageAsync();
        await WebClientPages.NewConversationAsync(page);

        await page.FillAsync("#input", "Hello from the browser");
        await page.PressAsync("#input", "Enter");

        var reply = page.Locator(".message.assistant:not(.streaming)").Last;
        await Assertions.Expect(reply).ToContainTextAsync("Hello from the browser", new() { Timeout = Timeout });
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "conversation.png") });

        // What the person saw is what was persisted.
        var shown = WebClientPages.Normalize(await reply.Locator(".body").InnerTextAsync());
        var conversationId = WebClientPages.ConversationIdOf(page);
        var stored = await _pages.AssistantContentAsync(user, conversationId);
        Assert.Equal(WebClientPages.Normalize(stored), shown);
    }

    [Fact]
    public async Task ArchiveUnarchiveDeleteAndRestoreFromTheConversationView()
    {
        var (page, _) = await _pages.SignedInPageAsync();
        await WebClientPages.NewConversationAsync(page);

        await page.ClickAsync("#archive");
        await Assertions.Expect(page.Locator("#archive")).ToHaveTextAsync("Unarchive", new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#input")).ToBeDisabledAsync();
        await page.ClickAsync("#archive");
        await Assertions.Expect(page.Locator("#archive")).ToHaveTextAsync("Archive", new() { Timeout = Timeout });

        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await page.ClickAsync("#delete");
        await Assertions.Expect(page.Locator("#restore")).ToBeVisibleAsync(new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#conversations [aria-current=true]")).ToHaveCountAsync(0);
        await page.ClickAsync("#restore");
        await Assertions.Expect(page.Locator("#restore")).ToBeHiddenAsync(new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#conversations [aria-current=true]")).ToHaveCountAsync(1, new() { Timeout = Timeout });
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "conversation-list.png") });
    }

    [Fact]
    public async Task ScriptOnerrorAndJavascriptLinksInAReplyDoNotRun()
    {
        // The page's CSP alone blocks inline handlers: bypass it, so this tests what the renderer lets through.
        var (page, _) = await _pages.SignedInPageAsync(bypassCsp: true);
        await WebClientPages.NewConversationAsync(page);

        const string attack = "<img src=x onerror=\"window.__xss=1\"> <script>window.__xss=2</script> [link](javascript:window.__xss=3)";
        await page.FillAsync("#input", attack);
        await page.PressAsync("#input", "Enter");

        // The reply has been rendered in full (chat-dev's fixed text follows the quote).
        var reply = page.Locator(".message.assistant:not(.streaming)").Last;
        await Assertions.Expect(reply).ToContainTextAsync("This deterministic reply", new() { Timeout = Timeout });

        // Positive control: the same markup put into the page unsanitised does run here (and its image has failed).
        await page.EvaluateAsync("() => { const d = document.createElement('div'); d.innerHTML = '<img src=x onerror=\"window.__control=1\">'; }");
        await page.WaitForFunctionAsync("() => window.__control === 1", null, new() { Timeout = Timeout });

        Assert.True(await page.EvaluateAsync<bool>("() => window.__xss === undefined"));
        Assert.Equal(0, await page.Locator(".message img, .message script, .message [onerror], .message a").CountAsync());
        await Assertions.Expect(reply).ToContainTextAsync("<script>window.__xss=2</script>");
        await Assertions.Expect(reply).ToContainTextAsync("[link](javascript:");
    }

    [Fact]
    public async Task OrderedListAndTableRenderAndStayPutWhileTheReplyStreams()
    {
        // chat-dev quotes the message with its whitespace collapsed: "⏎" marks the line breaks, and the page's socket
        // turns it back into one (per chunk, so the text the page gets is the stored text with ⏎ → \n).
        var (page, user) = await _pages.SignedInPageAsync(prepare: p => p.RouteWebSocketAsync(new Regex("/ws\\?"), BrowserFixture.RestoreLineBreaks));
        await WebClientPages.NewConversationAsync(page);
        const string markdown = "⏎⏎ 1. first ⏎ 2. second ⏎ 3. third ⏎⏎ | fruit | count | ⏎ | --- | ---: | ⏎ | apples | 3 | ⏎ | pears | 5 | ⏎⏎ End of table.";
        // Records, for each list or table put into a reply, how much of the reply's text was shown at that moment.
        await page.EvaluateAsync("""
            () => new MutationObserver((records) => {
              for (const record of records) for (const node of record.addedNodes)
                if (node.nodeName === 'OL' || node.nodeName === 'TABLE') node.__shownAt = node.parentElement?.textContent.length ?? 0;
            }).observe(document.getElementById('messages'), { childList: true, subtree: true })
            """);
        await page.FillAsync("#input", markdown);
        await page.PressAsync("#input", "Enter");

        var reply = page.Locator(".message.assistant:not(.streaming)").Last;
        await Assertions.Expect(reply).ToContainTextAsync("End of table.", new() { Timeout = Timeout });
        await Assertions.Expect(reply.Locator("ol > li")).ToHaveTextAsync(["first", "second", "third"]);
        await Assertions.Expect(reply.Locator("table thead th")).ToHaveTextAsync(["fruit", "count"]);
        await Assertions.Expect(reply.Locator("table tbody td")).ToHaveTextAsync(["apples", "3", "pears", "5"]);
        await Assertions.Expect(reply.Locator("table tbody td.align-right")).ToHaveTextAsync(["3", "5"]);
        // The list and the table on the page now were put there while the reply was still growing: the chunks after
        // them (and the final render) left them alone.
        var shownAt = await reply.EvaluateAsync<int[]>("r => [r.querySelector('ol').__shownAt, r.querySelector('table').__shownAt]");
        var finalLength = await reply.EvaluateAsync<int>("r => r.querySelector('.body').textContent.length");
        Assert.All(shownAt, length => Assert.InRange(length, 1, finalLength - 1));

        // The streamed result equals one full render of the text.
        var conversationId = WebClientPages.ConversationIdOf(page);
        var source = (await _pages.AssistantContentAsync(user, conversationId)).Replace("⏎", "\n", StringComparison.Ordinal);
        var full = await page.EvaluateAsync<string>("""
            async (source) => {
              const { renderMarkdown } = await import('/markdown.js');
              const div = document.createElement('div');
              div.append(renderMarkdown(source));
              return div.innerHTML;
            }
            """, source);
        Assert.Equal(full, await reply.Locator(".body").InnerHTMLAsync());
    }

    [Fact]
    public async Task ConversationListWorksByKeyboardAndTheControlsAreNamed()
    {
        var (page, _) = await _pages.SignedInPageAsync();
        await WebClientPages.NewConversationAsync(page);
        var olderId = WebClientPages.ConversationIdOf(page);
        await WebClientPages.NewConversationAsync(page);
        await Assertions.Expect(page).Not.ToHaveURLAsync(new Regex(olderId), new() { Timeout = Timeout });
        var openId = WebClientPages.ConversationIdOf(page);
        await Assertions.Expect(page.Locator($"#conversations button[aria-current=true][data-id='{openId}']")).ToHaveCountAsync(1, new() { Timeout = Timeout });
        var entries = page.Locator("#conversations button");
        var ids = await entries.EvaluateAllAsync<string[]>("buttons => buttons.map(b => b.dataset.id)");
        var target = Array.IndexOf(ids, olderId);
        Assert.Equal(2, ids.Length);

        // From the filter, Tab walks the list in order; Enter opens the entry that has focus.
        await page.FocusAsync("#status-filter");
        for (var i = 0; i <= target; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            await Assertions.Expect(entries.Nth(i)).ToBeFocusedAsync();
        }
        var older = entries.Nth(target);
        await page.Keyboard.PressAsync("Enter");

        await Assertions.Expect(page).ToHaveURLAsync(new Regex($"#/c/{olderId}$"), new() { Timeout = Timeout });
        await Assertions.Expect(older).ToHaveAttributeAsync("aria-current", "true");
        await Assertions.Expect(older).ToBeFocusedAsync();
        Assert.True(await older.EvaluateAsync<bool>("b => b.matches(':focus-visible') && getComputedStyle(b).outlineStyle !== 'none'"));

        await Assertions.Expect(page.GetByRole(AriaRole.Textbox, new() { Name = "Message", Exact = true })).ToHaveIdAsync("input");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Connected");
    }

    [Fact]
    public async Task OnlyTheStreamingReplyIsALiveRegion()
    {
        var (page, _) = await _pages.SignedInPageAsync();
        await WebClientPages.NewConversationAsync(page);
        await page.FillAsync("#input", "Announce me politely");
        await page.PressAsync("#input", "Enter");

        // While the reply streams: the page's one aria-live element is that reply's body.
        var whileStreaming = await page.WaitForFunctionAsync("""
            () => {
              const body = document.querySelector('.message.assistant.streaming .body');
              if (!body?.textContent.includes('chat-dev')) return null;
              const live = [...document.querySelectorAll('[aria-live]')];
              return { count: live.length, onReply: live[0] === body, politeness: body.getAttribute('aria-live') };
            }
            """, null, new() { Timeout = Timeout });
        var state = await whileStreaming.JsonValueAsync<JsonElement>();
        Assert.Equal(1, state.GetProperty("count").GetInt32());
        Assert.True(state.GetProperty("onReply").GetBoolean());
        Assert.Equal("polite", state.GetProperty("politeness").GetString());

        var reply = page.Locator(".message.assistant:not(.streaming)").Last;
        await Assertions.Expect(reply).ToContainTextAsync("Announce me politely", new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("[aria-live]")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task GatewayServesTheMarkdownLibrariesAsScriptsFromItsOwnOrigin()
    {
        foreach (var path in new[] { "/lib/markdown-it.esm.min.mjs", "/lib/purify.es.mjs" })
        {
            using var response = await app.Gateway.GetAsync(path);
            response.EnsureSuccessStatusCode();
            Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("script-src 'self'", string.Join(' ', response.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
        }
    }
}
