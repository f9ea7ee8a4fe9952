using Chat.Streaming.Infrastructure;
using Chat.Streaming.Services;
using Microsoft.Extensions.Options;

namespace Chat.Streaming.Extensions;

public static class StreamingExtensions
{
    public static IHostApplicationBuilder AddStreamingServices(this IHostApplicationBuilder builder)
    {
        builder.AddChatRedis();
        builder.AddChatAuthentication(allowQueryStringToken: true, authenticateEveryRequest: false);
        builder.AddActivitySource(StreamingTelemetry.Name);

        builder.Services.AddOptions<StreamingOptions>()
            .BindConfiguration(StreamingOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddMemoryCache(o => o.SizeLimit = 100_000);
        builder.Services.AddHttpClient<ChatApiClient>((sp, http) =>
            http.BaseAddress = sp.GetRequiredService<IOptions<StreamingOptions>>().Value.ChatApiAddress);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<StreamingTelemetry>();
        builder.Services.AddSingleton<ConversationHub>();
        builder.Services.AddSingleton<ConversationAuthorizer>();
        builder.Services.AddSingleton<ConnectionRegistry>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ConnectionRegistry>());
        builder.Services.AddSingleton(sp => new ConnectionServices(
            sp.GetRequiredService<ConversationHub>(),
            sp.GetRequiredService<ChatApiClient>(),
            sp.GetRequiredService<ConversationAuthorizer>(),
            sp.GetRequiredService<Chat.Messaging.GenerationCancelBus>(),
            sp.GetRequiredService<StreamingTelemetry>(),
            sp.GetRequiredService<IOptions<StreamingOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ChatConnection>>()));
        return builder;
    }
}
