using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Chat.IntegrationTests;

/// <summary>Pages of the web client signed in as a fresh dev user, and what the tests read back through the gateway.</summary>
public sealed class WebClientPages(ChatAppFixture app, BrowserFixture browser, ITestOutputHelper output)
{
    public const float Timeout = 30_000;

    public async Task<(IPage Page, string User)> SignedInPageAsync(Func<IPage, Task>? prepare = null, bool bypassCsp = false)
    {
        var context = await browser.Browser.NewContextAsync(new() { BaseURL = app.GatewayUri.ToString(), BypassCSP = bypassCsp });
        var page = await context.NewPageAsync();
        if (prepare is not null)
        {
            await prepare(page);
        }

        page.SetDefaultTimeout(Timeout);
        page.Console += (_, message) => Log($"[browser {message.Type}] {message.Text}");
        page.PageError += (_, error) => Log($"[browser page error] {error}");
        var user = $"web-{Guid.NewGuid():N}"[..16];
        await page.GotoAsync("/");
        await page.FillAsync("#dev-form input[name=userId]", user);
        await page.FillAsync("#dev-form input[name=tenantId]", "web-tenant");
        await page.ClickAsync("#dev-form button[type=submit]");
        await Assertions.Expect(page.Locator("#app")).ToBeVisibleAsync(new() { Timeout = Timeout });
        return (page, user);
    }

    public static async Task NewConversationAsync(IPage page)
    {
        await page.ClickAsync("#new-conversation");
        await Assertions.Expect(page.Locator("#conversation-title")).ToHaveTextAsync("New conversation", new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#input")).ToBeEnabledAsync(new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#connection")).ToHaveTextAsync("Connected", new() { Timeout = Timeout });
    }

    public async Task<string> AssistantContentAsync(string user, string conversationId)
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

    /// <summary>The browser's console in the test's output (events after the test ended have nowhere to go).</summary>
    private void Log(string line)
    {
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
        }
    }

    public static string ConversationIdOf(IPage page) => Regex.Match(page.Url, "#/c/([0-9a-f-]{36})").Groups[1].Value;

    public static string Normalize(string text) => Regex.Replace(text, @"\s+", " ").Trim();
}
