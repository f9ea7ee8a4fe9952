using System.Globalization;

namespace Chat.Bench.Cli;

/// <summary>
/// <c>command --name value --flag</c>. Every option read is marked used; <see cref="ThrowOnUnused"/> rejects
/// the rest, so a mistyped option fails the run instead of silently measuring something else.
/// </summary>
public sealed class CommandLine
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _used = new(StringComparer.OrdinalIgnoreCase);

    private CommandLine(string command) => Command = command;

    public string Command { get; }

    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0 || args[0].StartsWith("--", StringComparison.Ordinal))
        {
            throw new UsageException("The first argument is the command.");
        }
        var line = new CommandLine(args[0]);
        for (var i = 1; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new UsageException($"Unexpected argument '{arg}'.");
            }
            var name = arg[2..];
            string? value = null;
            var eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                value = args[++i];
            }
            line._values[name] = value;
        }
        return line;
    }

    public bool Flag(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var v) && (v is null || bool.Parse(v));
    }

    public string? OptionalString(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var v) ? v : null;
    }

    public string String(string name, string fallback) => OptionalString(name) ?? fallback;

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue) =>
        Checked(name, OptionalString(name) is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : fallback, min, max);

    public double Double(string name, double fallback, double min = double.MinValue, double max = double.MaxValue) =>
        Checked(name, OptionalString(name) is { } s ? double.Parse(s, CultureInfo.InvariantCulture) : fallback, min, max);

    /// <summary>Durations as <c>500ms</c>, <c>30s</c>, <c>2m</c> (a bare number is seconds).</summary>
    public TimeSpan Duration(string name, TimeSpan fallback) =>
        OptionalString(name) is { } s ? ParseDuration(s) : fallback;

    public IReadOnlyList<string> List(string name, string fallback) =>
        String(name, fallback).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public void ThrowOnUnused()
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new UsageException($"Unknown option(s) for '{Command}': {string.Join(", ", unknown.Select(k => "--" + k))}.");
        }
    }

    public static TimeSpan ParseDuration(string text)
    {
        static double Number(string s) => double.Parse(s, CultureInfo.InvariantCulture);
        return text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => TimeSpan.FromMilliseconds(Number(text[..^2])),
            _ when text.EndsWith('s') => TimeSpan.FromSeconds(Number(text[..^1])),
            _ when text.EndsWith('m') => TimeSpan.FromMinutes(Number(text[..^1])),
            _ => TimeSpan.FromSeconds(Number(text)),
        };
    }

    private static T Checked<T>(string name, T value, T min, T max) where T : IComparable<T> =>
        value.CompareTo(min) < 0 || value.CompareTo(max) > 0
            ? throw new UsageException($"--{name} must be between {min} and {max} (was {value}).")
            : value;
}

/// <summary>A bad command line: printed with the usage text, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
