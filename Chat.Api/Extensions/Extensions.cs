using System.Text.Json;
using System.Text.Json.Serialization;
using Chat.Api.Infrastructure;
using Chat.Api.Services;
using Chat.Data;
using Chat.ServiceDefaults.Authentication;
using Scalar.AspNetCore;

namespace Chat.Api.Extensions;

public static class Extensions
{
    public static WebApplicationBuilder AddApplicationServices(this WebApplicationBuilder builder)
    {
        var services = builder.Services;

        services.AddOptions<ConversationsOptions>().BindConfiguration(ConversationsOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<MessagesOptions>().BindConfiguration(MessagesOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();

        services.AddSingleton(TimeProvider.System);
        services.AddHttpContextAccessor();

        // The data layer's owner filter is bound to whoever made the request; no user means no rows (fail closed).
        services.AddScoped<IDataScope>(sp =>
            sp.GetRequiredService<IHttpContextAccessor>().HttpContext?.User is { } principal && ChatUser.TryFrom(principal, out var user)
                ? new DataScope(user.TenantId, user.UserId)
                : DataScope.None);

        services.AddScoped<ConversationService>();
        services.AddScoped<MessageService>();
        services.AddScoped<ReplyService>();
        services.AddScoped<ReplyResponder>();
        builder.AddChatLlm<WebApplicationBuilder, EfGenerationStore>();
        services.AddHostedService<ConversationPurgeService>();

        services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        });
        // Binding failures (malformed JSON, a query value of the wrong type) throw, so ApiExceptionHandler answers
        // them with a problem body in every environment.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);

        services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
        {
            var problem = ctx.ProblemDetails;
            var status = problem.Status ?? ctx.HttpContext.Response.StatusCode;
            problem.Extensions.TryAdd("code", ProblemCodes.ForStatus(status));
            // The framework adds the trace id on its own; the request id (added next) is the one a client quotes.
            problem.Extensions.Remove("traceId");
        });
        services.AddRequestIdToProblemDetails();
        services.AddExceptionHandler<ApiExceptionHandler>();

        services.AddOpenApi(o => o.AddDocumentTransformer<BearerSecuritySchemeTransformer>());
        return builder;
    }

    /// <summary>
    /// The middleware order matters: the request id first (every response carries it), then the exception handler
    /// and status code pages (so auth failures and unmatched routes get problem bodies), then authentication.
    /// </summary>
    public static WebApplication UseChatApiPipeline(this WebApplication app)
    {
        app.UseRequestId();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }

    /// <summary>The OpenAPI document at <c>/openapi/v1.json</c> and the Scalar reference at <c>/scalar</c>, in Development.</summary>
    public static WebApplication MapApiReference(this WebApplication app)
    {
        if (app.Environment.IsDevelopment())
        {
            app.MapOpenApi();
            app.MapScalarApiReference();
        }
        return app;
    }
}
