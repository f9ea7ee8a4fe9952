using Chat.Streaming.Apis;
using Chat.Streaming.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddStreamingServices();
builder.Services.AddProblemDetails();

var app = builder.Build();

app.UseWebSockets();
app.MapDefaultEndpoints("chat-streaming");
app.MapWebSocketApi();

app.Run();
