using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;

namespace Chat.IntegrationTests;

[Collection(ChatAppCollection.Name)]
public sealed class ApiDevTokenScriptTests(ChatAppFixture fixture)
{
    [Fact]
    public async Task DevTokenScriptPrintsATokenForTheGivenUserTenantAndScopes()
    {
        var (exitCode, stdout, stderr) = await RunAsync("--user", "script-user", "--tenant", "script-tenant", "--scopes", "chat.read chat.write",
            "--url", fixture.GatewayUri.ToString());
        Assert.True(exitCode == 0, stderr);
        var token = stdout.Trim();
        Assert.Equal(3, token.Split('.').Length);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/conversations") { Content = new StringContent("{}", null, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await fixture.Gateway.SendAsync(request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var id = ApiTestClient.Id(await ApiTestClient.JsonAsync(response));
        Assert.Equal(1L, await ApiTestClient.ScalarAsync<long>(fixture,
            "SELECT count(*) FROM chat_conversations WHERE id = @id AND tenant_id = 'script-tenant' AND user_id = 'script-user'", ("id", id)));
    }

    [Fact]
    public async Task DevTokenScriptAgainstNoDevEndpointFailsWithAMessage()
    {
        // The streaming service has no dev token endpoint: the script must fail loudly, not print garbage.
        var streaming = fixture.App.GetEndpoint("chat-streaming", "http");
        var (exitCode, stdout, stderr) = await RunAsync("--url", streaming.ToString());
        Assert.NotEqual(0, exitCode);
        Assert.Equal("", stdout.Trim());
        Assert.Contains("404", stderr, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var script = FindScript();
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        using var cts = new CancellationTokenSource(ChatAppFixture.StepTimeout);
        var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = process.StandardError.ReadToEndAsync(cts.Token);
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    private static string FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "scripts", "dev-token.sh");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException("scripts/dev-token.sh not found above the test assembly.");
    }
}
