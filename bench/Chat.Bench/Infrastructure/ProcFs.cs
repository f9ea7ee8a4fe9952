using System.Globalization;
using System.Net;

namespace Chat.Bench.Infrastructure;

/// <summary>What the bench reads from Linux /proc: processes by name or listening port, their RSS and CPU time.</summary>
public static class ProcFs
{
    /// <summary>USER_HZ: the unit of utime/stime in /proc/&lt;pid&gt;/stat; 100 on every mainstream Linux build.</summary>
    public const double ClockTicksPerSecond = 100;

    public static IReadOnlyList<int> AllPids() =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : 0)
            .Where(pid => pid > 0)
            .ToList();

    public static string? CommandLine(int pid) =>
        TryRead($"/proc/{pid}/cmdline") is { } raw ? raw.Replace('\0', ' ').Trim() : null;

    /// <summary>Processes (not this one) whose command line contains <paramref name="fragment"/>.</summary>
    public static IReadOnlyList<int> FindByCommandLine(string fragment) =>
        AllPids().Where(pid => pid != Environment.ProcessId && CommandLine(pid) is { } c && c.Contains(fragment, StringComparison.Ordinal)).ToList();

    /// <summary>The process that owns the TCP socket listening on <paramref name="port"/> (IPv4 or IPv6), if any.</summary>
    public static int? FindListener(int port)
    {
        var inodes = ListeningInodes(port);
        if (inodes.Count == 0)
        {
            return null;
        }
        foreach (var pid in AllPids())
        {
            if (SocketInodes(pid).Overlaps(inodes))
            {
                return pid;
            }
        }
        return null;
    }

    /// <summary>Ports the process listens on (TCP).</summary>
    public static IReadOnlyList<int> ListeningPorts(int pid)
    {
        var mine = SocketInodes(pid);
        return ListeningSockets().Where(s => mine.Contains(s.Inode)).Select(s => s.Port).Distinct().ToList();
    }

    /// <summary>Direct children of any of <paramref name="parents"/>.</summary>
    public static IReadOnlyList<int> ChildrenOf(IReadOnlyList<int> parents) =>
        AllPids().Where(pid => ParentOf(pid) is { } parent && parents.Contains(parent)).ToList();

    public static int? ParentOf(int pid)
    {
        var stat = TryRead($"/proc/{pid}/stat");
        return stat is null ? null : int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
    }

    public static string? WorkingDirectory(int pid)
    {
        try
        {
            return new DirectoryInfo($"/proc/{pid}/cwd").LinkTarget;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static string? EnvironmentVariable(int pid, string name) =>
        TryRead($"/proc/{pid}/environ")?.Split('\0').FirstOrDefault(e => e.StartsWith(name + "=", StringComparison.Ordinal))?[(name.Length + 1)..];

    /// <summary>Resident set size in bytes (VmRSS), or null when the process is gone.</summary>
    public static long? RssBytes(int pid)
    {
        var status = TryRead($"/proc/{pid}/status");
        var line = status?.Split('\n').FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return line is null ? null : long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>User + system CPU time in clock ticks, or null when the process is gone.</summary>
    public static long? CpuTicks(int pid)
    {
        var stat = TryRead($"/proc/{pid}/stat");
        if (stat is null)
        {
            return null;
        }
        // Fields after the parenthesised command name (which may contain spaces): state is field 3, utime 14, stime 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    private static HashSet<long> ListeningInodes(int port) =>
        ListeningSockets().Where(s => s.Port == port).Select(s => s.Inode).ToHashSet();

    private static IEnumerable<(int Port, long Inode)> ListeningSockets()
    {
        foreach (var file in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            var text = TryRead(file);
            if (text is null)
            {
                continue;
            }
            foreach (var line in text.Split('\n').Skip(1))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length < 10 || parts[3] != "0A")
                {
                    continue; // 0A = LISTEN
                }
                var local = parts[1];
                var port = int.Parse(local[(local.LastIndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                yield return (port, long.Parse(parts[9], CultureInfo.InvariantCulture));
            }
        }
    }

    private static HashSet<long> SocketInodes(int pid)
    {
        var result = new HashSet<long>();
        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
            {
                var target = new FileInfo(fd).LinkTarget;
                if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
                {
                    result.Add(long.Parse(target[8..^1], CultureInfo.InvariantCulture));
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The process ended or is not ours to look at.
        }
        return result;
    }

    private static string? TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>A free loopback TCP port (bound and released at once).</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
