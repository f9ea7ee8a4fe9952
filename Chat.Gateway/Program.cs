using Chat.Gateway.Extensions;
using Chat.Gateway.Infrastructure;

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
app.MapReverseProxy(proxy =>
{
    // Outermost, so it also sees the load balancer's own "no destination left" answer.
    proxy.UseUpstreamErrors();
    proxy.UseSessionAffinity();
    proxy.UseLoadBalancing();
    proxy.UsePassiveHealthChecks();
});

app.Run();
