using System.Data.Common;
using Chat.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using Npgsql.EntityFrameworkCore.PostgreSQL.Infrastructure;

namespace Microsoft.Extensions.Hosting;

public static class DataExtensions
{
    /// <summary>The Aspire resource (and connection string) name of the chat database.</summary>
    public const string ConnectionName = "chatdb";

    /// <summary>How long the <c>database</c> health check may take: a server that does not answer by then is down.</summary>
    public static readonly TimeSpan HealthCheckTimeout = TimeSpan.FromSeconds(1.5);

    /// <summary>
    /// Registers <see cref="ChatDbContext"/> on the <c>chatdb</c> connection with Aspire's Npgsql enrichment
    /// (retries, tracing, metrics) and a <c>database</c> health check. Contexts are pooled (building one per request
    /// cost the API a measurable share of each REST call): the scoped <see cref="ChatDbContext"/>
    /// is leased from the pool and bound to the request's <see cref="IDataScope"/>, which the query filters read.
    /// <paramref name="npgsql"/>: the service's own provider options, e.g. a retrying execution strategy of its own
    /// (Aspire keeps one that is configured here; else it sets EF Core's default: 6 retries over about a minute).
    /// </summary>
    public static TBuilder AddChatDatabase<TBuilder>(this TBuilder builder, string? migrationsAssembly = null,
        Action<NpgsqlDbContextOptionsBuilder>? npgsql = null)
        where TBuilder : IHostApplicationBuilder
    {
        var connectionString = Tuned(builder.Configuration.GetConnectionString(ConnectionName)
            ?? throw new InvalidOperationException($"Connection string '{ConnectionName}' is missing. Run the service through Chat.AppHost, or set ConnectionStrings__{ConnectionName}."),
            keepsNoSessionState: migrationsAssembly is null);

        builder.Services.AddPooledDbContextFactory<ChatDbContext>(options => options.UseNpgsql(connectionString, provider =>
        {
            if (migrationsAssembly is not null)
            {
                provider.MigrationsAssembly(migrationsAssembly);
            }
            npgsql?.Invoke(provider);
        }));
        builder.Services.AddScoped(sp =>
            sp.GetRequiredService<IDbContextFactory<ChatDbContext>>().CreateDbContext(sp.GetService<IDataScope>() ?? DataScope.None));
        builder.EnrichNpgsqlDbContext<ChatDbContext>(settings => settings.DisableHealthChecks = true);
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            ServiceDefaultsExtensions.DatabaseCheck,
            sp => new DatabaseHealthCheck(sp.GetRequiredService<IDbContextFactory<ChatDbContext>>()),
            HealthStatus.Unhealthy,
            tags: null,
            HealthCheckTimeout));
        return builder;
    }

    /// <summary>
    /// Tunes the connection for Chat's services, unless the connection string already sets the option:
    /// <list type="bullet">
    /// <item>Npgsql's automatic preparation: the statements a service runs on every request (a history page, an insert)
    /// are parsed and planned once per connection instead of every time, which is most of what PostgreSQL spends on
    /// them.</item>
    /// <item>For a service that keeps no session state (<paramref name="keepsNoSessionState"/>: no SET, temporary
    /// tables, advisory locks or LISTEN), no reset when a connection goes back to the pool. Npgsql otherwise has the
    /// server run seven reset statements (RESET ALL, DISCARD TEMP, pg_advisory_unlock_all() …) ahead of the next
    /// lease's first command: 0.15 ms on every request here (a Stopwatch trace). The migration worker
    /// keeps the reset.</item>
    /// </list>
    /// </summary>
    internal static string Tuned(string connectionString, bool keepsNoSessionState)
    {
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString };
        var csb = new NpgsqlConnectionStringBuilder(connectionString);
        if (csb.MaxAutoPrepare == 0)
        {
            csb.MaxAutoPrepare = 64;
            csb.AutoPrepareMinUsages = 2;
        }
        if (keepsNoSessionState && !given.ContainsKey("No Reset On Close") && !given.ContainsKey("NoResetOnClose"))
        {
            csb.NoResetOnClose = true;
        }
        return csb.ConnectionString;
    }

    /// <summary>Leases a context from the pool bound to <paramref name="scope"/> (dispose it to return it).</summary>
    public static ChatDbContext CreateDbContext(this IDbContextFactory<ChatDbContext> factory, IDataScope scope)
    {
        var context = factory.CreateDbContext();
        context.BindScope(scope);
        return context;
    }
}
