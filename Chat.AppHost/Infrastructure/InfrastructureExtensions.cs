using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

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
            : AddLocal(builder, options, decision.Binaries!);
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

    private static ChatInfrastructure AddLocal(IDistributedApplicationBuilder builder, InfrastructureOptions options, InfrastructureProbe.LocalBinaries binaries)
    {
        var root = options.Ephemeral
            ? Path.Combine(Path.GetTempPath(), $"chat-{Guid.NewGuid():N}")
            : Path.GetFullPath(options.DataDirectory ?? LocalProcessUser.DefaultDataDirectory());
        Directory.CreateDirectory(root);
        if (options.Ephemeral)
        {
            builder.Services.AddHostedService(sp => new EphemeralDirectoryCleanup(root));
        }

        var pgData = Path.Combine(root, "postgres");
        var redisDir = Path.Combine(root, "redis");
        Directory.CreateDirectory(redisDir);

        var pgPassword = builder.AddParameter("postgres-password", ReadOrCreateSecret(Path.Combine(root, "postgres.password")), secret: true);
        var redisSecret = ReadOrCreateSecret(Path.Combine(root, "redis.password"));
        var redisPassword = builder.AddParameter("cache-password", redisSecret, secret: true);

        // One-shot: creates the cluster on first run (as the postgres user when we are root), else does nothing.
        var runAs = LocalProcessUser.IsRoot
            ? $"setpriv --reuid={LocalProcessUser.PostgresUser} --regid={LocalProcessUser.PostgresUser} --init-groups --"
            : "";
        var chown = LocalProcessUser.IsRoot ? $"chown {LocalProcessUser.PostgresUser}: \"$PGDATA\" \"$PWFILE\"" : "true";
        var initScript = $$"""
            set -eu
            if [ -f "$PGDATA/PG_VERSION" ]; then echo "PostgreSQL cluster exists in $PGDATA"; exit 0; fi
            mkdir -p "$PGDATA"; chmod 700 "$PGDATA"
            PWFILE="$PGDATA.pwfile"; umask 077; printf '%s' "$CHAT_PG_PASSWORD" > "$PWFILE"
            {{chown}}
            {{runAs}} "{{binaries.InitDb}}" -D "$PGDATA" -U postgres --pwfile="$PWFILE" --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --no-sync --no-instructions
            rm -f "$PWFILE"
            """;
        var init = builder.AddExecutable($"{PostgresName}-init", "/bin/sh", root, "-c", initScript)
            .WithEnvironment("PGDATA", pgData)
            .WithEnvironment("CHAT_PG_PASSWORD", pgPassword)
            .ExcludeFromManifest();

        string serverCommand;
        List<string> serverArgs = [];
        if (LocalProcessUser.IsRoot)
        {
            serverCommand = "setpriv";
            serverArgs.AddRange([$"--reuid={LocalProcessUser.PostgresUser}", $"--regid={LocalProcessUser.PostgresUser}", "--init-groups", "--", binaries.Postgres]);
        }
        else
        {
            serverCommand = binaries.Postgres;
        }
        serverArgs.AddRange(["-D", pgData, "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=300"]);
        if (options.Ephemeral)
        {
            // Throw-away data: durability buys nothing and costs the tests time.
            serverArgs.AddRange(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        }

        var server = new LocalPostgresServerResource(PostgresName, serverCommand, root, pgPassword.Resource);
        var postgres = builder.AddResource(server)
            .WithArgs([.. serverArgs])
            // Not proxied: every query and every pub/sub frame would otherwise cross DCP's TCP proxy, a hop production
            // never has (docs/BENCHMARKS.md, "Third pass"). The port is still allocated per run.
            .WithEndpoint(name: LocalPostgresServerResource.EndpointName, scheme: "tcp", env: "PGPORT", isProxied: false)
            .WithIconName("Database")
            .WaitForCompletion(init)
            .ExcludeFromManifest();
        AddReadinessCheck(builder, postgres, $"{PostgresName}-ready", _ => new PostgresReadyCheck(server));

        var database = builder.AddResource(new LocalPostgresDatabaseResource(DatabaseName, DatabaseName, server))
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "PostgresDatabase",
                State = KnownResourceStates.Waiting,
                Properties = [],
            })
            .ExcludeFromManifest();
        // The database has no process of its own: it is running when its server is healthy.
        builder.Eventing.Subscribe<ResourceReadyEvent>(server, async (e, ct) =>
        {
            var notifications = e.Services.GetRequiredService<ResourceNotificationService>();
            await notifications.PublishUpdateAsync(database.Resource, s => s with
            {
                State = KnownResourceStates.Running,
                StartTimeStamp = DateTime.UtcNow,
            });
        });

        var redisResource = new LocalRedisResource(CacheName, binaries.RedisServer, redisDir, redisPassword.Resource);
        var redisConf = Path.Combine(redisDir, "redis.conf");
        File.WriteAllText(redisConf, $"""
            # Written by Chat.AppHost on each start; the password lives here so it stays out of the process list.
            bind 127.0.0.1
            protected-mode yes
            save ""
            appendonly no
            dir {redisDir}
            requirepass {redisSecret}
            """);
        RestrictToOwner(redisConf);
        var cache = builder.AddResource(redisResource)
            .WithEndpoint(name: LocalRedisResource.EndpointName, scheme: "tcp", isProxied: false)
            .WithArgs(ctx =>
            {
                ctx.Args.Add(redisConf);
                ctx.Args.Add("--port");
                ctx.Args.Add(redisResource.Endpoint.Property(EndpointProperty.TargetPort));
            })
            .WithIconName("Memory")
            .ExcludeFromManifest();
        AddReadinessCheck(builder, cache, $"{CacheName}-ready", _ => new RedisReadyCheck(redisResource));

        return new ChatInfrastructure(InfrastructureMode.Local, database, cache);
    }

    private static void AddReadinessCheck<T>(IDistributedApplicationBuilder builder, IResourceBuilder<T> resource, string key, Func<IServiceProvider, IHealthCheck> factory)
        where T : IResource
    {
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(key, factory, HealthStatus.Unhealthy, tags: null, timeout: TimeSpan.FromSeconds(5)));
        resource.WithHealthCheck(key);
    }

    /// <summary>A random secret kept in a file readable only by this user, so persistent data keeps its credentials.</summary>
    private static string ReadOrCreateSecret(string path)
    {
        if (File.Exists(path))
        {
            return File.ReadAllText(path).Trim();
        }
        var secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
        File.WriteAllText(path, secret);
        RestrictToOwner(path);
        return secret;
    }

    private static void RestrictToOwner(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    /// <summary>Deletes an ephemeral data directory once the app host (and the servers it stopped) are gone.</summary>
    private sealed class EphemeralDirectoryCleanup(string directory) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            // The orchestrator stops the servers during shutdown; give them a moment to release their files.
            for (var attempt = 0; attempt < 10 && Directory.Exists(directory); attempt++)
            {
                try
                {
                    Directory.Delete(directory, recursive: true);
                }
                catch (IOException)
                {
                    await Task.Delay(200, CancellationToken.None);
                }
                catch (UnauthorizedAccessException)
                {
                    await Task.Delay(200, CancellationToken.None);
                }
            }
        }
    }
}
