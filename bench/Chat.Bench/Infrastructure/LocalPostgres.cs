using Npgsql;

namespace Chat.Bench.Infrastructure;

/// <summary>
/// A throw-away PostgreSQL cluster (initdb in a temp directory, trust auth on loopback, fsync off) on a free port.
/// As root it runs as the <c>postgres</c> user through setpriv, as the app host does.
/// </summary>
public sealed class LocalPostgres : IAsyncDisposable
{
    private readonly ChildProcess _process;
    private readonly string _directory;

    private LocalPostgres(ChildProcess process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Port = port;
    }

    /// <summary>SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client session to end.</summary>
    private const string FastShutdown = "INT";

    public int Port { get; }

    public int Pid => _process.Pid;

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Maximum Pool Size=200";

    public static async Task<LocalPostgres> StartAsync(string binDirectory)
    {
        var directory = Directory.CreateTempSubdirectory("chat-bench-pg-").FullName;
        var data = Path.Combine(directory, "data");
        var isRoot = Environment.UserName == "root";
        if (isRoot)
        {
            await ChildProcess.RunAsync("chown", ["postgres:", directory], TimeSpan.FromSeconds(10));
        }
        string[] runAs = isRoot ? ["--reuid=postgres", "--regid=postgres", "--init-groups", "--"] : [];
        string Exe(string name) => Path.Combine(binDirectory, name);

        await ChildProcess.RunAsync(isRoot ? "setpriv" : Exe("initdb"),
            [.. isRoot ? [.. runAs, Exe("initdb")] : Array.Empty<string>(), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "--no-instructions", "--encoding=UTF8"],
            TimeSpan.FromSeconds(60));

        var port = ProcFs.FreePort();
        string[] serverArgs = ["-D", data, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-c", "listen_addresses=127.0.0.1",
            "-c", "unix_socket_directories=", "-c", "max_connections=300", "-c", "log_min_messages=fatal", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"];
        var process = isRoot
            ? ChildProcess.Start("postgres", "setpriv", [.. runAs, Exe("postgres"), .. serverArgs], stopSignal: FastShutdown)
            : ChildProcess.Start("postgres", Exe("postgres"), serverArgs, stopSignal: FastShutdown);
        var postgres = new LocalPostgres(process, directory, port);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(postgres.ConnectionString + ";Timeout=2");
                await connection.OpenAsync(timeout.Token);
                return postgres;
            }
            catch (NpgsqlException) when (!timeout.IsCancellationRequested && !process.HasExited)
            {
                await Task.Delay(200, timeout.Token);
            }
        }
    }

    /// <summary>The first PostgreSQL bin directory that has initdb (Debian layout, else PATH).</summary>
    public static string FindBinDirectory() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.EnumerateDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().FirstOrDefault() ?? "/usr/bin"
            : "/usr/bin";

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
