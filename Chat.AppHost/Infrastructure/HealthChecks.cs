using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Chat.AppHost.Infrastructure;

/// <summary>Healthy once the local PostgreSQL server answers <c>select 1</c> with the app's credentials.</summary>
internal sealed class PostgresReadyCheck(IResourceWithConnectionString server) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var cs = await server.ConnectionStringExpression.GetValueAsync(cancellationToken);
            var builder = new NpgsqlConnectionStringBuilder(cs) { Pooling = false, Timeout = 3, Database = "postgres" };
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("select 1", connection);
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is NpgsqlException or SocketException or TimeoutException or InvalidOperationException)
        {
            return HealthCheckResult.Unhealthy("PostgreSQL is not answering yet.", ex);
        }
    }
}

/// <summary>Healthy once the local Redis answers <c>AUTH</c> + <c>PING</c> over RESP.</summary>
internal sealed class RedisReadyCheck(LocalRedisResource redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var password = await redis.Password.GetValueAsync(cancellationToken) ?? "";
            using var client = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            await client.ConnectAsync(redis.Endpoint.Host, redis.Endpoint.Port, timeout.Token);
            await using var stream = client.GetStream();
            var request = $"*2\r\n$4\r\nAUTH\r\n${Encoding.UTF8.GetByteCount(password)}\r\n{password}\r\n*1\r\n$4\r\nPING\r\n";
            await stream.WriteAsync(Encoding.UTF8.GetBytes(request), timeout.Token);

            var buffer = new byte[256];
            var received = "";
            while (!received.Contains("+PONG", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer, timeout.Token);
                if (read == 0)
                {
                    return HealthCheckResult.Unhealthy("Redis closed the connection.");
                }
                received += Encoding.UTF8.GetString(buffer, 0, read);
                if (received.StartsWith('-') || received.Contains("\r\n-", StringComparison.Ordinal))
                {
                    return HealthCheckResult.Unhealthy($"Redis refused: {received.Trim()}");
                }
            }
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException or InvalidOperationException)
        {
            return HealthCheckResult.Unhealthy("Redis is not answering yet.", ex);
        }
    }
}
