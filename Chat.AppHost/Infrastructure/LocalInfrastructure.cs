using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Chat.AppHost.Infrastructure;

/// <summary>
/// The machine's own PostgreSQL and Redis as executable resources, their data and generated credentials under one
/// directory (<see cref="InfrastructureOptions.DataDirectory"/>, or a throw-away one when ephemeral).
/// </summary>
internal static class LocalInfrastructure
{
    public static ChatInfrastructure Add(IDistributedApplicationBuilder builder, InfrastructureOptions options, InfrastructureProbe.LocalBinaries binaries)
    {
        var root = DataDirectory(builder, options);
        var redisDir = Path.Combine(root, "redis");
        Directory.CreateDirectory(redisDir);

        // Both secrets before any server, so the parameters lead the app model (and the dashboard).
        var pgPassword = builder.AddParameter("postgres-password", ReadOrCreateSecret(Path.Combine(root, "postgres.password")), secret: true);
        var redisSecret = ReadOrCreateSecret(Path.Combine(root, "redis.password"));
        var redisPassword = builder.AddParameter("cache-password", redisSecret, secret: true);

        var database = AddPostgres(builder, options, binaries, root, pgPassword);
        var cache = AddRedis(builder, binaries.RedisServer, redisDir, redisSecret, redisPassword);
        return new ChatInfrastructure(InfrastructureMode.Local, database, cache);
    }

    private static string DataDirectory(IDistributedApplicationBuilder builder, InfrastructureOptions options)
    {
        var root = options.Ephemeral
            ? Path.Combine(Path.GetTempPath(), $"chat-{Guid.NewGuid():N}")
            : Path.GetFullPath(options.DataDirectory ?? LocalProcessUser.DefaultDataDirectory());
        Directory.CreateDirectory(root);
        if (options.Ephemeral)
        {
            builder.Services.AddHostedService(sp => new EphemeralDirectoryCleanup(root));
        }
        return root;
    }

    /// <summary>The cluster's one-shot initialisation, the server once it is done, and the <c>chatdb</c> database on it.</summary>
    private static IResourceBuilder<IResourceWithConnectionString> AddPostgres(
        IDistributedApplicationBuilder builder, InfrastructureOptions options, InfrastructureProbe.LocalBinaries binaries,
        string root, IResourceBuilder<ParameterResource> password)
    {
        var pgData = Path.Combine(root, "postgres");
        var init = AddPostgresInit(builder, binaries.InitDb, root, pgData, password);

        var (command, args) = PostgresServerCommand(binaries.Postgres, pgData, options.Ephemeral);
        var server = new LocalPostgresServerResource(InfrastructureExtensions.PostgresName, command, root, password.Resource);
        var postgres = builder.AddResource(server)
            .WithArgs([.. args])
            // Not proxied: every query and every pub/sub frame would otherwise cross DCP's TCP proxy, a hop production
            // never has. The port is still allocated per run.
            .WithEndpoint(name: LocalPostgresServerResource.EndpointName, scheme: "tcp", env: "PGPORT", isProxied: false)
            .WithIconName("Database")
            .WaitForCompletion(init)
            .ExcludeFromManifest();
        AddReadinessCheck(builder, postgres, $"{InfrastructureExtensions.PostgresName}-ready", _ => new PostgresReadyCheck(server));

        return AddDatabase(builder, server);
    }

    /// <summary>One-shot: creates the cluster on first run (as the postgres user when we are root), else does nothing.</summary>
    private static IResourceBuilder<ExecutableResource> AddPostgresInit(
        IDistributedApplicationBuilder builder, string initDb, string root, string pgData, IResourceBuilder<ParameterResource> password)
    {
        var runAs = LocalProcessUser.IsRoot ? "setpriv " + string.Join(' ', LocalProcessUser.AsPostgres) : "";
        var chown = LocalProcessUser.IsRoot ? $"chown {LocalProcessUser.PostgresUser}: \"$PGDATA\" \"$PWFILE\"" : "true";
        var initScript = $$"""
            set -eu
            if [ -f "$PGDATA/PG_VERSION" ]; then echo "PostgreSQL cluster exists in $PGDATA"; exit 0; fi
            mkdir -p "$PGDATA"; chmod 700 "$PGDATA"
            PWFILE="$PGDATA.pwfile"; umask 077; printf '%s' "$CHAT_PG_PASSWORD" > "$PWFILE"
            {{chown}}
            {{runAs}} "{{initDb}}" -D "$PGDATA" -U postgres --pwfile="$PWFILE" --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --no-sync --no-instructions
            rm -f "$PWFILE"
            """;
        return builder.AddExecutable($"{InfrastructureExtensions.PostgresName}-init", "/bin/sh", root, "-c", initScript)
            .WithEnvironment("PGDATA", pgData)
            .WithEnvironment("CHAT_PG_PASSWORD", password)
            .ExcludeFromManifest();
    }

    /// <summary>The server's command line: through <c>setpriv</c> as the postgres user when we are root (it refuses root).</summary>
    private static (string Command, List<string> Args) PostgresServerCommand(string postgres, string pgData, bool ephemeral)
    {
        List<string> args = [];
        var command = postgres;
        if (LocalProcessUser.IsRoot)
        {
            command = "setpriv";
            args.AddRange([.. LocalProcessUser.AsPostgres, postgres]);
        }
        args.AddRange(["-D", pgData, "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=300"]);
        if (ephemeral)
        {
            // Throw-away data: durability buys nothing and costs the tests time.
            args.AddRange(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        }
        return (command, args);
    }

    private static IResourceBuilder<IResourceWithConnectionString> AddDatabase(IDistributedApplicationBuilder builder, LocalPostgresServerResource server)
    {
        var database = builder.AddResource(new LocalPostgresDatabaseResource(InfrastructureExtensions.DatabaseName, InfrastructureExtensions.DatabaseName, server))
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
        return database;
    }

    private static IResourceBuilder<IResourceWithConnectionString> AddRedis(
        IDistributedApplicationBuilder builder, string redisServer, string redisDir, string secret, IResourceBuilder<ParameterResource> password)
    {
        var redisResource = new LocalRedisResource(InfrastructureExtensions.CacheName, redisServer, redisDir, password.Resource);
        var redisConf = Path.Combine(redisDir, "redis.conf");
        File.WriteAllText(redisConf, $"""
            # Written by Chat.AppHost on each start; the password lives here so it stays out of the process list.
            bind 127.0.0.1
            protected-mode yes
            save ""
            appendonly no
            dir {redisDir}
            requirepass {secret}
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
        AddReadinessCheck(builder, cache, $"{InfrastructureExtensions.CacheName}-ready", _ => new RedisReadyCheck(redisResource));
        return cache;
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
}
