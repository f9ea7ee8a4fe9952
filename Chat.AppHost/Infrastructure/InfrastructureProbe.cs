using System.Diagnostics;

namespace Chat.AppHost.Infrastructure;

/// <summary>Decides how the app host provides PostgreSQL and Redis on this machine, quickly and without hanging.</summary>
public sealed class InfrastructureProbe(InfrastructureOptions options)
{
    public const string InstallHint =
        "Chat needs PostgreSQL and Redis. Either start a container runtime (Docker or Podman) and run with " +
        "Infrastructure:Mode=containers, or install the servers from your distribution's packages " +
        "(Debian/Ubuntu: `sudo apt-get install -y postgresql redis-server`; `./run.sh` does this for you) " +
        "and run with Infrastructure:Mode=local.";

    public sealed record LocalBinaries(string Postgres, string InitDb, string RedisServer);

    public sealed record Decision(InfrastructureMode Mode, LocalBinaries? Binaries, string Reason);

    public Decision Decide()
    {
        switch (options.Mode)
        {
            case InfrastructureMode.Containers:
                return new Decision(InfrastructureMode.Containers, null, "configured");
            case InfrastructureMode.Local:
                return new Decision(InfrastructureMode.Local, FindLocalBinaries(out var missing)
                    ?? throw new InfrastructureUnavailableException($"Infrastructure:Mode is 'local' but {missing} was not found. {InstallHint}"),
                    "configured");
        }

        var runtime = ProbeContainerRuntime();
        if (runtime is not null)
        {
            return new Decision(InfrastructureMode.Containers, null, $"container runtime '{runtime}' answered");
        }

        var binaries = FindLocalBinaries(out var notFound);
        if (binaries is not null)
        {
            return new Decision(InfrastructureMode.Local, binaries, "no container runtime answered; local binaries found");
        }

        throw new InfrastructureUnavailableException(
            $"No container runtime answered and {notFound} is not installed. {InstallHint}");
    }

    public LocalBinaries? FindLocalBinaries(out string missing)
    {
        var pgBin = options.PostgresBinDirectory ?? FindPostgresBinDirectory();
        var postgres = pgBin is null ? null : Path.Combine(pgBin, "postgres");
        var initdb = pgBin is null ? null : Path.Combine(pgBin, "initdb");
        var redis = options.RedisServerPath ?? FindOnPath("redis-server");

        var absent = new List<string>();
        if (postgres is null || !File.Exists(postgres) || initdb is null || !File.Exists(initdb))
        {
            absent.Add("PostgreSQL (postgres, initdb)");
        }
        if (redis is null || !File.Exists(redis))
        {
            absent.Add("Redis (redis-server)");
        }
        if (LocalProcessUser.IsRoot && !LocalProcessUser.PostgresUserExists())
        {
            absent.Add("the 'postgres' system user (PostgreSQL refuses to run as root)");
        }

        missing = string.Join(" and ", absent);
        return absent.Count == 0 ? new LocalBinaries(postgres!, initdb!, redis!) : null;
    }

    private static string? FindPostgresBinDirectory()
    {
        const string root = "/usr/lib/postgresql";
        if (Directory.Exists(root))
        {
            var newest = Directory.GetDirectories(root)
                .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
                .Where(d => File.Exists(Path.Combine(d.Dir, "postgres")))
                .OrderByDescending(d => d.Version)
                .FirstOrDefault();
            if (newest.Dir is not null)
            {
                return newest.Dir;
            }
        }
        var onPath = FindOnPath("postgres");
        return onPath is null ? null : Path.GetDirectoryName(ResolveLink(onPath));
    }

    private static string ResolveLink(string path) =>
        new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;

    internal static string? FindOnPath(string executable) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, executable))
            .FirstOrDefault(File.Exists);

    /// <summary>Asks the container runtime whether its engine answers (<c>docker info</c>), bounded by a timeout.</summary>
    private string? ProbeContainerRuntime()
    {
        string[] candidates = options.ContainerRuntime is { Length: > 0 } configured ? [configured] : ["docker", "podman"];
        foreach (var runtime in candidates)
        {
            var path = Path.IsPathRooted(runtime) ? runtime : FindOnPath(runtime);
            if (path is null || !File.Exists(path))
            {
                continue;
            }

            try
            {
                using var process = Process.Start(new ProcessStartInfo(path, ["info", "--format", "{{.ServerVersion}}"])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                });
                if (process is null)
                {
                    continue;
                }
                if (!process.WaitForExit(options.ContainerProbeTimeout))
                {
                    process.Kill(entireProcessTree: true);
                    continue;
                }
                if (process.ExitCode == 0)
                {
                    return Path.GetFileName(runtime);
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // Not executable: treat as absent.
            }
        }
        return null;
    }
}

public sealed class InfrastructureUnavailableException(string message) : Exception(message);
