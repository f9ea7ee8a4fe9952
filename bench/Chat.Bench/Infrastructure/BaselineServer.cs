namespace Chat.Bench.Infrastructure;

/// <summary>Starts one of the baseline servers of bench/Baselines (built next to this tool) on a free port and waits for /health.</summary>
public sealed class BaselineServer : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private BaselineServer(ChildProcess process, Uri url)
    {
        _process = process;
        Url = url;
    }

    public Uri Url { get; }

    public int Pid => _process.Pid;

    /// <param name="project">RawWs, SignalRPeer or RestBaseline.</param>
    /// <param name="settings">Configuration passed as <c>--Key=value</c>.</param>
    /// <param name="timeout">How long the server may take to answer /health.</param>
    public static async Task<BaselineServer> StartAsync(string project, IReadOnlyDictionary<string, string> settings, TimeSpan timeout)
    {
        var dll = Path.Combine(RepositoryRoot(), "bench", "Baselines", project, "bin", BuildConfiguration(), "net10.0", project + ".dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing: build the solution in {BuildConfiguration()} first (bench/run.sh does).");
        }
        var port = ProcFs.FreePort();
        var url = new Uri($"http://127.0.0.1:{port}");
        List<string> args = [dll, "--urls", url.ToString().TrimEnd('/')];
        args.AddRange(settings.Select(kv => $"--{kv.Key}={kv.Value}"));
        // Baselines log at Warning and above only, so their output stays visible: it is where a failure shows.
        var process = ChildProcess.Start(project, "dotnet", args, quiet: false);
        var server = new BaselineServer(process, url);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            try
            {
                using var response = await http.GetAsync(new Uri(url, "/health"), cts.Token);
                if (response.IsSuccessStatusCode)
                {
                    return server;
                }
            }
            catch (HttpRequestException) when (!process.HasExited)
            {
            }
            catch (TaskCanceledException) when (!cts.IsCancellationRequested && !process.HasExited)
            {
            }
            if (process.HasExited)
            {
                await server.DisposeAsync();
                throw new InvalidOperationException($"{project} exited during start-up.");
            }
            await Task.Delay(200, cts.Token);
        }
    }

    /// <summary>The directory holding Chat.sln, found upward from this tool's binaries.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Chat.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Chat.sln not found above " + AppContext.BaseDirectory);
    }

    private static string BuildConfiguration() =>
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
