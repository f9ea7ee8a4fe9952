var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddChatRedis();

var app = builder.Build();

app.UseWebSockets();
app.MapDefaultEndpoints("chat-streaming");
app.MapGet("/ws", Chat.Streaming.WebSocketEndpoint.HandleAsync);

app.Run();
