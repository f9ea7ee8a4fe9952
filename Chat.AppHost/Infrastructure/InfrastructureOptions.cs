using Microsoft.Extensions.Configuration;

namespace Chat.AppHost.Infrastructure;

public enum InfrastructureMode
{
    /// <summary>Containers when a container runtime answers, else local binaries when installed, else fail at once.</summary>
    Auto,

    /// <summary><c>AddPostgres</c>/<c>AddRedis</c> containers (Docker or Podman).</summary>
    Containers,

    /// <summary>PostgreSQL and Redis from the machine's packages, run as Aspire executables.</summary>
    Local,
}

/// <summary>The <c>Infrastructure</c> configuration section of the app host.</summary>
public sealed class InfrastructureOptions
{
    public const string SectionName = "Infrastructure";

    public InfrastructureMode Mode { get; set; } = InfrastructureMode.Auto;

    /// <summary>
    /// Local mode: where PostgreSQL's cluster and Redis's files live between runs. Defaults to a per-user directory
    /// (<c>$XDG_DATA_HOME/chat</c>, or <c>/var/lib/chat</c> when root, because postgres must be able to reach it).
    /// </summary>
    public string? DataDirectory { get; set; }

    /// <summary>Local mode: a throw-away data directory under the temp folder, deleted on stop (tests).</summary>
    public bool Ephemeral { get; set; }

    /// <summary>Local mode: the folder holding <c>postgres</c> and <c>initdb</c>; found under /usr/lib/postgresql when unset.</summary>
    public string? PostgresBinDirectory { get; set; }

    /// <summary>Local mode: the <c>redis-server</c> executable; found on PATH when unset.</summary>
    public string? RedisServerPath { get; set; }

    /// <summary>Containers: the runtime to ask (docker or podman); defaults to ASPIRE_CONTAINER_RUNTIME, else docker then podman.</summary>
    public string? ContainerRuntime { get; set; }

    /// <summary>How long to wait for <c>docker info</c> before deciding no runtime answers.</summary>
    public TimeSpan ContainerProbeTimeout { get; set; } = TimeSpan.FromSeconds(8);

    public static InfrastructureOptions From(IConfiguration configuration)
    {
        var options = new InfrastructureOptions();
        configuration.GetSection(SectionName).Bind(options);
        options.ContainerRuntime ??= configuration["ASPIRE_CONTAINER_RUNTIME"] ?? configuration["DOTNET_ASPIRE_CONTAINER_RUNTIME"];
        return options;
    }
}
