using System.Globalization;

namespace Chat.IntegrationTests;

/// <summary>What Linux's <c>/proc</c> tells about a process: its state, parent and children, command line and sockets.</summary>
internal static class ProcFs
{
    /// <summary><paramref name="root"/> and every descendant, parents before children (one scan of /proc).</summary>
    public static List<int> ProcessTree(int root)
    {
        var children = AllProcesses().ToLookup(p => p.ParentId, p => p.Id);
        var tree = new List<int> { root };
        for (var i = 0; i < tree.Count; i++)
        {
            tree.AddRange(children[tree[i]]);
        }
        return tree;
    }

    public static IEnumerable<int> Children(int parent) => AllProcesses().Where(p => p.ParentId == parent).Select(p => p.Id);

    private static IEnumerable<(int Id, int ParentId)> AllProcesses()
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && Stat(pid) is { } stat)
            {
                yield return (pid, stat.ParentId);
            }
        }
    }

    /// <summary>Gone, or a zombie (dead, only waiting to be reaped: it holds no port, file or shared memory).</summary>
    public static bool IsGone(int pid) => Stat(pid) is not { } stat || stat.State is 'Z' or 'X';

    /// <summary>Stopped by a signal (<c>T</c>): it runs no code until SIGCONT.</summary>
    public static bool IsStopped(int pid) => Stat(pid)?.State == 'T';

    /// <summary>The state letter (R, S, T, Z…) and the parent's id, or null when the process is gone.</summary>
    public static (char State, int ParentId)? Stat(int pid)
    {
        try
        {
            // "pid (comm) S ppid …": comm may hold spaces and parentheses, so read after the last ')'.
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return (fields[0][0], int.Parse(fields[1], CultureInfo.InvariantCulture));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static bool IsDotnetRun(int pid)
    {
        try
        {
            var args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            return args.Length > 1 && Path.GetFileName(args[0]) == "dotnet" && args.Contains("run");
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Bytes that arrived on the process's TCP sockets and that it has not read yet (the kernel's receive queues).</summary>
    public static long UnreadTcpBytes(int pid)
    {
        var sockets = new HashSet<string>(StringComparer.Ordinal);
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            // A socket's descriptor links to "socket:[inode]".
            if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("socket:[", StringComparison.Ordinal))
            {
                sockets.Add(target["socket:[".Length..^1]);
            }
        }
        long unread = 0;
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            // "sl local rem st tx_queue:rx_queue tr:when retrnsmt uid timeout inode …", queues in hex.
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 9 && sockets.Contains(fields[9]))
                {
                    unread += long.Parse(fields[4][(fields[4].IndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                }
            }
        }
        return unread;
    }
}
