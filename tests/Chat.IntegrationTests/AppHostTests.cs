using System.Text.Json;

namespace Chat.IntegrationTests;

/// <summary>The app host as a program: publishing a manifest, and failing fast when nothing can run the databases.</summary>
public sealed class AppHostTests
{
    [Fact]
    public async Task PublishManifestDescribesEveryResourceWithoutMachinePaths()
    {
        // Written inside the repository (artifacts/ is ignored), as a deployment would: project paths come out relative.
        var output = Path.Combine(RepoProcess.RepositoryRoot, "artifacts", $"manifest-{Guid.NewGuid():N}");
        Directory.CreateDirectory(output);
        try
        {
            var manifestPath = Path.Combine(output, "aspire-manifest.json");
            var result = await RepoProcess.RunAsync(
                [RepoProcess.BuiltDll("Chat.AppHost"), "--publisher", "manifest", "--output-path", manifestPath],
                workingDirectory: Path.Combine(RepoProcess.RepositoryRoot, "Chat.AppHost"));
            Assert.True(result.ExitCode == 0, result.Output);

            var text = await File.ReadAllTextAsync(manifestPath);
            using var manifest = JsonDocument.Parse(text);
            var resources = manifest.RootElement.GetProperty("resources");

            foreach (var project in new[] { "migrations", "chat-api", "chat-streaming", "gateway" })
            {
                Assert.StartsWith("project.v", resources.GetProperty(project).GetProperty("type").GetString(), StringComparison.Ordinal);
                Assert.False(Path.IsPathRooted(resources.GetProperty(project).GetProperty("path").GetString()));
            }
            Assert.StartsWith("container.", resources.GetProperty("postgres").GetProperty("type").GetString(), StringComparison.Ordinal);
            Assert.StartsWith("container.", resources.GetProperty("cache").GetProperty("type").GetString(), StringComparison.Ordinal);
            Assert.Equal("value.v0", resources.GetProperty("chatdb").GetProperty("type").GetString());
            Assert.True(resources.TryGetProperty("jwt-signing-key", out _));

            // Nothing that only exists on this machine.
            foreach (var local in new[] { "/usr/lib/postgresql", "/usr/bin/redis-server", "setpriv", "/var/lib/chat", Path.GetTempPath(), "postgres-init", RepoProcess.RepositoryRoot })
            {
                Assert.DoesNotContain(local, text, StringComparison.Ordinal);
            }
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    public async Task AutoModeWithNoContainerRuntimeAndNoBinariesFailsFastWithInstallHint()
    {
        var result = await RepoProcess.RunAsync(
            [
                RepoProcess.BuiltDll("Chat.AppHost"),
                "--Infrastructure:Mode=auto",
                "--Infrastructure:ContainerRuntime=/nonexistent/docker",
                "--Infrastructure:PostgresBinDirectory=/nonexistent/postgresql/bin",
                "--Infrastructure:RedisServerPath=/nonexistent/redis-server",
            ],
            environment: new Dictionary<string, string?>
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Development",
                ["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true",
            },
            workingDirectory: Path.Combine(RepoProcess.RepositoryRoot, "Chat.AppHost"),
            timeout: TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("apt-get install -y postgresql redis-server", result.Output, StringComparison.Ordinal);
        Assert.Contains("No container runtime answered", result.Output, StringComparison.Ordinal);
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(30), $"took {result.Elapsed}");
    }
}
