using Chat.Bench.Baselines.SignalRPeer;
using Microsoft.AspNetCore.SignalR.StackExchangeRedis;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

// The peer for docs/BENCHMARKS.md: how a .NET team would build the fan-out with SignalR. Clients join a group per
// conversation; publishers anywhere send to the group through IHubContext and the Redis backplane.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddOptions<SignalRPeerOptions>()
    .BindConfiguration(SignalRPeerOptions.SectionName)
    .ValidateDataAnnotations()
    .ValidateOnStart();
builder.Services.AddSignalR().AddStackExchangeRedis();
builder.Services.AddOptions<RedisOptions>()
    .Configure<IOptions<SignalRPeerOptions>>((redis, peer) => redis.Configuration = ConfigurationOptions.Parse(peer.Value.Redis));

var app = builder.Build();
app.UseWebSockets();
app.MapGet("/health", () => TypedResults.Text("ok"));
app.MapHub<FrameHub>(PeerProtocol.HubPath);
app.Run();
