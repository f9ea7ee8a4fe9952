var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddChatDatabase();
builder.AddChatRedis();

var app = builder.Build();

app.MapDefaultEndpoints("chat-api");

app.Run();
