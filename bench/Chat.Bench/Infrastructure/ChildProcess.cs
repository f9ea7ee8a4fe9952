using System.Diagnostics;

namespace Chat.Bench.Infrastructure;

/// <summary>A process this bench started; disposing stops exactly that process (SIGKILL after a grace period).</summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;

    private readonly string _stopSignal;

    private ChildProcess(Process process, string name, string stopSignal)
    {
        _process = process;
        _stopSignal = stopSignal;
        Name = name;
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public static ChildProcess Start(string name, string fileName, IEnumerable<string> arguments, string? workingDirectory = null, bool quiet = true, string stopSignal = "TERM")
    {
        var info = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = quiet,
            RedirectStandardError = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        if (quiet)
        {
            // Discard stdout asynchronously so a chatty child never blocks on a full pipe; stderr stays visible.
            process.OutputDataReceived += static (_, _) => { };
            process.BeginOutputReadLine();
        }
        return new ChildProcess(process, name, stopSignal);
    }

    /// <summary>Runs a one-shot command to completion and throws with its exit code when it fails.</summary>
    public static async Task RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout)
    {
        await using var child = Start(Path.GetFileName(fileName), fileName, arguments);
        using var cts = new CancellationTokenSource(timeout);
        await child._process.WaitForExitAsync(cts.Token);
        if (child._process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} exited with {child._process.ExitCode}.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                // The stop signal first (servers shut down cleanly), then SIGKILL for this process only.
                using var term = Process.Start("kill", ["-" + _stopSignal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                if (term is not null)
                {
                    await term.WaitForExitAsync();
                }
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: false);
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
    }
}
