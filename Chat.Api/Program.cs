using Chat.Api.Apis;
using Chat.Api.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddChatApiDatabase();
builder.AddChatRedis(RedisCommandsWhileDisconnected.FailFast); // the generation runner buffers through an outage itself
builder.AddChatAuthentication();
builder.AddApplicationServices();

var app = builder.Build();

app.UseChatApiPipeline();
app.MapDefaultEndpoints("chat-api");
app.MapApiReference();

app.MapConversationsApi();
app.MapMessagesApi();
app.MapDevTokenApi();
app.MapGenerationsApi();
app.MapChatApi();
app.MapOpenAiApi();

app.Run();
