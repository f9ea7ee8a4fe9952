using System.Text.Json;
using System.Text.Json.Serialization;
using Chat.Api.Infrastructure;
using Chat.Api.OpenAi;
using Chat.Api.Services;
using Chat.Data;
using Chat.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.Extensions.Options;
using Scalar.AspNetCore;

namespace Chat.Api.Extensions;

public static class Extensions
{
    /// <summary>
    /// The chat database, bounded for requests (docs/API.md, "When PostgreSQL is unavailable"): EF Core retries a failed
    /// attempt at least every <see cref="DatabaseOptions.MaxRetryDelay"/>, and every request is answered within
    /// <see cref="DatabaseOptions.RequestTimeout"/> (a request timeout, the default policy of every endpoint), with
    /// 503 <c>database_unavailable</c> when its database work could not be done by then.
    /// </summary>
    public static WebApplicationBuilder AddChatApiDatabase(this WebApplicationBuilder builder)
    {
        builder.AddChatDatabase(npgsql: npgsql =>
            npgsql.EnableRetryOnFailure(DatabaseOptions.MaxRetryCount, DatabaseOptions.MaxRetryDelay, errorCodesToAdd: null));

        builder.Services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddRequestTimeouts();
        builder.Services.AddOptions<RequestTimeoutOptions>().Configure<IOptions<DatabaseOptions>>((timeouts, database) =>
            timeouts.DefaultPolicy = DatabaseUnavailable.Policy(database.Value));
        return builder;
    }

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
        services.AddScoped<ReplyResolver>();
        services.AddScoped<GenerationFollower>();
        services.AddScoped<ReplyResponder>();
        services.AddScoped<OpenAiResponder>();
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
    /// and status code pages (so auth failures and unmatched routes get problem bodies), then authentication; the
    /// request timeout last, inside the exception handler, so that it answers its own timeouts.
    /// </summary>
    public static WebApplication UseChatApiPipeline(this WebApplication app)
    {
        app.UseRequestId();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRequestTimeouts();
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
