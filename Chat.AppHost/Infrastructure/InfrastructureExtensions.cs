namespace Chat.AppHost.Infrastructure;

/// <summary>PostgreSQL (server and the <c>chatdb</c> database) and Redis, whichever way this machine provides them.</summary>
public sealed record ChatInfrastructure(
    InfrastructureMode Mode,
    IResourceBuilder<IResourceWithConnectionString> Database,
    IResourceBuilder<IResourceWithConnectionString> Cache);

public static class InfrastructureExtensions
{
    public const string PostgresName = "postgres";
    public const string DatabaseName = "chatdb";
    public const string CacheName = "cache";

    public static ChatInfrastructure AddChatInfrastructure(this IDistributedApplicationBuilder builder)
    {
        var options = InfrastructureOptions.From(builder.Configuration);

        // A manifest describes what to deploy, never this machine: always the container resources.
        if (builder.ExecutionContext.IsPublishMode)
        {
            return AddContainers(builder, options);
        }

        var decision = new InfrastructureProbe(options).Decide();
        Console.WriteLine($"Chat infrastructure: {decision.Mode} ({decision.Reason}).");
        return decision.Mode == InfrastructureMode.Containers
            ? AddContainers(builder, options)
            : LocalInfrastructure.Add(builder, options, decision.Binaries!);
    }

    private static ChatInfrastructure AddContainers(IDistributedApplicationBuilder builder, InfrastructureOptions options)
    {
        var postgres = builder.AddPostgres(PostgresName);
        if (!options.Ephemeral)
        {
            postgres.WithDataVolume("chat-postgres-data");
        }
        var database = postgres.AddDatabase(DatabaseName);
        var cache = builder.AddRedis(CacheName);
        return new ChatInfrastructure(InfrastructureMode.Containers, database, cache);
    }
}
