using Chat.Gateway.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayEdge();
builder.Services.AddReverseProxy()
    .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
    .AddServiceDiscoveryDestinationResolver();
builder.Services.SkipDataProtectionKeyRingAtStart(); // YARP adds Data Protection again (affinity cookies, unused here)

var app = builder.Build();

app.UseGatewayEdge();
app.MapDefaultEndpoints("gateway");
app.MapReverseProxy();

app.Run();
