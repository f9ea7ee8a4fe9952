using StackExchange.Redis;

namespace Chat.Bench.Infrastructure;

/// <summary>A throw-away redis-server on a free loopback port with its own temp directory (no persistence).</summary>
public sealed class LocalRedis : IAsyncDisposable
{
    private readonly ChildProcess _process;
    private readonly string _directory;

    private LocalRedis(ChildProcess process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public int Pid => _process.Pid;

    public string ConnectionString => $"127.0.0.1:{Port}";

    public static async Task<LocalRedis> StartAsync(string executable = "redis-server")
    {
        var directory = Directory.CreateTempSubdirectory("chat-bench-redis-").FullName;
        var port = ProcFs.FreePort();
        var process = ChildProcess.Start("redis-server", executable,
            ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", directory, "--maxclients", "100000"]);
        var redis = new LocalRedis(process, directory, port);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (true)
        {
            try
            {
                await using var probe = await ConnectionMultiplexer.ConnectAsync($"{redis.ConnectionString},abortConnect=true,connectTimeout=500");
                await probe.GetDatabase().PingAsync();
                return redis;
            }
            catch (RedisConnectionException) when (!timeout.IsCancellationRequested && !process.HasExited)
            {
                await Task.Delay(100, timeout.Token);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
