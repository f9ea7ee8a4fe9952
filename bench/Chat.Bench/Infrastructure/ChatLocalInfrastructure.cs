using System.Globalization;

namespace Chat.Bench.Infrastructure;

/// <summary>
/// Finds the Redis and PostgreSQL that <c>./run.sh</c> (local infrastructure mode) started, so the bench can
/// publish into the same Redis Chat reads and put the REST baseline on the same PostgreSQL server. The app host
/// keeps their files and passwords in its data directory (/var/lib/chat as root, else ~/.local/share/chat).
/// </summary>
public static class ChatLocalInfrastructure
{
    public static string DefaultDataDirectory() =>
        Environment.UserName == "root"
            ? "/var/lib/chat"
            : Path.Combine(Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share"), "chat");

    /// <summary>The app host's redis-server (its working directory is &lt;data&gt;/redis): pid and connection string.</summary>
    public static (int Pid, string ConnectionString) FindRedis(string dataDirectory)
    {
        var redisDir = Path.GetFullPath(Path.Combine(dataDirectory, "redis"));
        foreach (var pid in ProcFs.FindByCommandLine("redis-server"))
        {
            if (ProcFs.WorkingDirectory(pid) == redisDir && ProcFs.ListeningPorts(pid) is [var port, ..])
            {
                var password = File.ReadAllText(Path.Combine(dataDirectory, "redis.password")).Trim();
                return (pid, $"127.0.0.1:{port},password={password}");
            }
        }
        throw new InvalidOperationException($"No redis-server working in {redisDir}: is Chat running (./run.sh) in local infrastructure mode?");
    }

    /// <summary>The app host's postgres (started with -D &lt;data&gt;/postgres): pid and a connection string to the <c>postgres</c> database.</summary>
    public static (int Pid, string ConnectionString) FindPostgres(string dataDirectory)
    {
        var pgData = Path.GetFullPath(Path.Combine(dataDirectory, "postgres"));
        foreach (var pid in ProcFs.FindByCommandLine(pgData))
        {
            if (ProcFs.CommandLine(pid) is { } c && c.Contains("postgres", StringComparison.Ordinal) && ProcFs.ListeningPorts(pid) is [var port, ..])
            {
                var password = File.ReadAllText(Path.Combine(dataDirectory, "postgres.password")).Trim();
                return (pid, string.Create(CultureInfo.InvariantCulture,
                    $"Host=127.0.0.1;Port={port};Username=postgres;Password={password};Database=postgres;Maximum Pool Size=200"));
            }
        }
        throw new InvalidOperationException($"No postgres serving {pgData}: is Chat running (./run.sh) in local infrastructure mode?");
    }
}
