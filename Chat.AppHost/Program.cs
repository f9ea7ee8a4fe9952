using Chat.AppHost;
using Chat.AppHost.Infrastructure;

// `--no-dashboard` (benchmarks, docs/BENCHMARKS.md): no dashboard ingesting every span beside the services measured.
const string NoDashboard = "--no-dashboard";
var noDashboard = args.Contains(NoDashboard);
var builder = DistributedApplication.CreateBuilder(new DistributedApplicationOptions
{
    Args = [.. args.Where(a => a != NoDashboard)],
    DisableDashboard = noDashboard,
});

// Infrastructure: containers where a runtime answers, else the machine's own PostgreSQL and Redis (see README).
// Neither available: say what to install and stop at once rather than wait forever on resources that cannot start.
ChatInfrastructure infrastructure;
try
{
    infrastructure = builder.AddChatInfrastructure();
}
catch (InfrastructureUnavailableException ex)
{
    await Console.Error.WriteLineAsync($"error: {ex.Message}");
    return 2;
}
var chatdb = infrastructure.Database;
var cache = infrastructure.Cache;

// Tokens come from an external auth service in production; in development and tests these parameters give every
// service the same symmetric key (generated per run unless Parameters:jwt-signing-key is set).
var jwt = builder.AddChatJwtParameters();

// The schema must exist before anything reads it: the API and streaming tier wait for the worker to finish.
var migrations = builder.AddProject<Projects.Chat_MigrationService>("migrations")
    .WithReference(chatdb)
    .WaitFor(chatdb);

var api = builder.AddProject<Projects.Chat_Api>("chat-api")
    .WithReference(chatdb)
    .WithReference(cache)
    .WaitFor(cache)
    .WaitForCompletion(migrations)
    .WithChatJwt(jwt)
    .WithSettingsSection(builder.Configuration, "Conversations")
    .WithSettingsSection(builder.Configuration, "Messages")
    .WithSettingsSection(builder.Configuration, "Database")
    .WithSettingsSection(builder.Configuration, "Llm")
    .WithLlmProviderKeys(builder)
    .WithHttpHealthCheck("/health")
    // Two replicas behind the orchestrator's proxy (replicas cannot run proxy-less): the gateway and chat-streaming
    // reach either through one address, and a request keeps working while one replica is down.
    .WithReplicas(2);

// Two replicas behind the orchestrator's proxy: every socket may land on either, and resume works on both.
var streaming = builder.AddProject<Projects.Chat_Streaming>("chat-streaming")
    .WithReference(cache)
    .WithReference(api)
    .WaitFor(cache)
    .WaitForCompletion(migrations)
    .WithChatJwt(jwt)
    .WithHttpHealthCheck("/health")
    .WithReplicas(2);

var gateway = builder.AddProject<Projects.Chat_Gateway>("gateway")
    .WithReference(api)
    .WithReference(streaming)
    .WaitFor(api)
    .WaitFor(streaming)
    .WithExternalHttpEndpoints()
    .WithChatJwt(jwt)
    .WithSettingsSection(builder.Configuration, "Gateway")
    .WithHttpHealthCheck("/health");

builder.AnnounceWhenReady(gateway, api);

if (noDashboard)
{
    builder.WithoutTelemetryExport();
}

await builder.Build().RunAsync();
return 0;
