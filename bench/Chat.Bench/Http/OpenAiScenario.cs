using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Chat.Bench.Cli;
using Chat.Bench.Infrastructure;
using Chat.Bench.Measurement;
using Chat.Bench.Reporting;

namespace Chat.Bench.Http;

public sealed record OpenAiOptions
{
    public required string Label { get; init; }
    public required Uri Url { get; init; }
    public required string SigningKey { get; init; }
    public required string Model { get; init; }
    public int Concurrency { get; init; }
    public TimeSpan Duration { get; init; }
    public TimeSpan Warmup { get; init; }
    public double ProviderTimeToFirstTokenMs { get; init; }
    public required IReadOnlyList<string> Samples { get; init; }
    public required string OutputDirectory { get; init; }

    public static OpenAiOptions From(CommandLine cl) => new()
    {
        Label = cl.String("label", "default"),
        Url = new Uri(cl.String("url", "http://localhost:5300")),
        SigningKey = cl.OptionalString("signing-key") ?? Environment.GetEnvironmentVariable("CHAT_BENCH_SIGNING_KEY")
            ?? throw new UsageException("openai needs --signing-key (or CHAT_BENCH_SIGNING_KEY)."),
        Model = cl.String("model", "chat-dev"),
        Concurrency = cl.Int("concurrency", 16, 1, 10_000),
        Duration = cl.Duration("duration", TimeSpan.FromSeconds(20)),
        Warmup = cl.Duration("warmup", TimeSpan.FromSeconds(3)),
        // Unset (NaN) means: do not print the overhead line.
        ProviderTimeToFirstTokenMs = cl.OptionalString("provider-ttft-ms") is { } ttft
            ? double.Parse(ttft, CultureInfo.InvariantCulture)
            : double.NaN,
        Samples = cl.List("sample", ""),
        OutputDirectory = cl.String("out", Path.Combine(BaselineServer.RepositoryRoot(), "bench", "results")),
    };
}

/// <summary>
/// The OpenAI-compatible surface: <c>POST /v1/chat/completions</c> with <c>stream=true</c> at fixed concurrency,
/// reading the SSE stream to <c>[DONE]</c>. Reports completions/s and time to the first content chunk; with
/// <c>--provider-ttft-ms</c> (the local provider's configured time to first token) also what Chat adds to it.
/// </summary>
public sealed class OpenAiScenario(OpenAiOptions options)
{
    public async Task<HttpRunResult> RunAsync(CancellationToken ct)
    {
        var startedAt = DateTimeOffset.UtcNow;
        var root = BaselineServer.RepositoryRoot();
        List<SampledGroup> groups = [.. new[] { ("gateway", "Chat.Gateway"), ("chat-api", "Chat.Api") }
            .Select(s => ProcessSampler.Resolve($"{s.Item1}=name:{Path.Combine(root, s.Item2, "bin")}/")),
            new SampledGroup("bench", [Environment.ProcessId]), .. options.Samples.Select(ProcessSampler.Resolve)];
        var sampler = new ProcessSampler(groups);

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.Concurrency, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        { BaseAddress = options.Url, Timeout = TimeSpan.FromMinutes(2) };
        // One user per worker: the gateway caps concurrent generations per user.
        var tokens = Enumerable.Range(0, options.Concurrency)
            .Select(w => BenchTokens.Create(options.SigningKey, $"bench-openai-{w}", "bench", TimeSpan.FromHours(4))).ToList();

        var result = await HttpLoad.RunAsync("chat-completions-stream", options.Concurrency, options.Warmup, options.Duration,
            (w, token) => StreamOnceAsync(http, tokens[w], token), sampler, ct,
            double.IsNaN(options.ProviderTimeToFirstTokenMs) ? null : options.ProviderTimeToFirstTokenMs);
        if (result.FirstChunkOverProvider is { } over)
        {
            Console.WriteLine($"  over the provider's own time to first token ({options.ProviderTimeToFirstTokenMs} ms): " +
                $"p50 +{over.P50Ms:0.###} ms, p90 +{over.P90Ms:0.###} ms, p99 +{over.P99Ms:0.###} ms");
        }
        return new HttpRunResult("openai", "chat", options.Label, startedAt, MachineInfo.Current(), new Dictionary<string, string>
        {
            ["url"] = options.Url.ToString(),
            ["model"] = options.Model,
            ["concurrency"] = options.Concurrency.ToString(CultureInfo.InvariantCulture),
            ["duration"] = options.Duration.ToString(),
            ["providerTtftMs"] = options.ProviderTimeToFirstTokenMs.ToString(CultureInfo.InvariantCulture),
        }, [result]);
    }

    private async Task<RequestOutcome> StreamOnceAsync(HttpClient http, string token, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new
            {
                model = options.Model,
                stream = true,
                messages = new[] { new { role = "user", content = "Hello from the bench." } },
            }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode)
        {
            return new RequestOutcome((int)response.StatusCode, false);
        }
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        long firstChunk = 0;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal))
            {
                continue;
            }
            var data = line.AsSpan(5).Trim();
            if (data.SequenceEqual("[DONE]"))
            {
                return new RequestOutcome((int)response.StatusCode, firstChunk != 0, firstChunk);
            }
            // The first chunk that carries text (the role-only opening chunk does not count).
            if (firstChunk == 0 && data.IndexOf("\"content\":\"", StringComparison.Ordinal) is var at and >= 0
                && at + 11 < data.Length && data[at + 11] != '"')
            {
                firstChunk = Stopwatch.GetTimestamp();
            }
        }
        return new RequestOutcome((int)response.StatusCode, false); // the stream ended without [DONE]
    }
}
