using Chat.Bench.Baselines.RawWs;
using StackExchange.Redis;

// The raw baseline for docs/BENCHMARKS.md, the strongest simple server: Kestrel WebSockets and one Redis subscription per
// conversation, each published frame sent unchanged, inline when the socket is idle. No auth, no replay, no protocol
// beyond the subscribe frame.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddOptions<RawWsOptions>()
    .BindConfiguration(RawWsOptions.SectionName)
    .ValidateDataAnnotations()
    .ValidateOnStart();
builder.Services.AddSingleton<ConversationRooms>();

// Connected before the first request: a lazy synchronous connect would block thread-pool threads under a burst of upgrades.
var redisConfiguration = builder.Configuration[$"{RawWsOptions.SectionName}:{nameof(RawWsOptions.Redis)}"];
if (string.IsNullOrEmpty(redisConfiguration))
{
    throw new InvalidOperationException($"{RawWsOptions.SectionName}:{nameof(RawWsOptions.Redis)} is required.");
}
builder.Services.AddSingleton<IConnectionMultiplexer>(await ConnectionMultiplexer.ConnectAsync(redisConfiguration));

var app = builder.Build();
app.UseWebSockets();
app.MapGet("/health", () => TypedResults.Text("ok"));
app.Map("/ws", RawSocketEndpoint.HandleAsync);
await app.RunAsync();
