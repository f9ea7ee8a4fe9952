using Chat.Bench.Baselines.RawWs;
using StackExchange.Redis;

// The machine's limit for docs/BENCHMARKS.md: Kestrel WebSockets and one Redis subscription per conversation,
// forwarding every published frame unchanged. No auth, no replay, no protocol beyond the subscribe frame.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddOptions<RawWsOptions>()
    .BindConfiguration(RawWsOptions.SectionName)
    .ValidateDataAnnotations()
    .ValidateOnStart();
builder.Services.AddSingleton<IConnectionMultiplexer>(sp =>
    ConnectionMultiplexer.Connect(sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<RawWsOptions>>().Value.Redis));
builder.Services.AddSingleton<ConversationRooms>();

var app = builder.Build();
app.UseWebSockets();
app.MapGet("/health", () => TypedResults.Text("ok"));
app.Map("/ws", RawSocketEndpoint.HandleAsync);
app.Run();
