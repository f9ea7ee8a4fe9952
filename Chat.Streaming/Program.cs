using Chat.Streaming.Apis;
using Chat.Streaming.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddStreamingServices();
builder.Services.AddProblemDetails();

var app = builder.Build();

app.UseWebSocketApi();
app.MapDefaultEndpoints("chat-streaming");

app.Run();
