using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace Chat.IntegrationTests;

/// <summary>One headless Chromium (Debian's package, driven by Playwright) shared by a test class.</summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public static string ScreenshotDirectory { get; } = Path.Combine(RepoProcess.RepositoryRoot, "TestResults", "screenshots");

    public async Task InitializeAsync()
    {
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // No sandbox as root; no background traffic (this machine has no network beyond loopback).
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
            Timeout = 60_000,
        });
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }
        _playwright?.Dispose();
    }

    /// <summary>
    /// A page's chat.v1 socket passed through, with each "⏎" in a chunk's text turned into a line break: chat-dev quotes a
    /// message with its whitespace collapsed, so this is how a test gets a reply with Markdown blocks.
    /// </summary>
    public static void RestoreLineBreaks(IWebSocketRoute page)
    {
        var server = page.ConnectToServer();
        server.OnMessage(frame =>
        {
            if (frame.Text is null)
            {
                page.Send(frame.Binary ?? []);
                return;
            }

            var message = JsonNode.Parse(frame.Text)!.AsObject();
            if ((string?)message["type"] == "chunk")
            {
                message["delta"] = ((string?)message["delta"])?.Replace("⏎", "\n", StringComparison.Ordinal);
            }
            page.Send(message.ToJsonString());
        });
    }
}
