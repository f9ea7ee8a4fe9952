namespace Chat.Api.Infrastructure;

internal static partial class ApiTrace
{
    [LoggerMessage(1, LogLevel.Error, "Unhandled exception on {Method} {Path}")]
    public static partial void UnhandledException(ILogger logger, string method, string path, Exception exception);

    [LoggerMessage(2, LogLevel.Information, "Refused {Method} {Path} with {Status}: {Reason}")]
    public static partial void BadRequest(ILogger logger, string method, string path, int status, string reason);

    [LoggerMessage(3, LogLevel.Information, "Purged {Count} conversation(s) deleted before {Cutoff}")]
    public static partial void Purged(ILogger logger, int count, DateTimeOffset cutoff);

    [LoggerMessage(4, LogLevel.Error, "The retention purge failed; it runs again at the next interval")]
    public static partial void PurgeFailed(ILogger logger, Exception exception);

    [LoggerMessage(5, LogLevel.Warning, "Minted a development token for {UserId} in {TenantId} with scopes '{Scopes}'")]
    public static partial void DevTokenMinted(ILogger logger, string userId, string tenantId, string scopes);

    [LoggerMessage(6, LogLevel.Warning, "Answered {Method} {Path} with 503 database_unavailable: PostgreSQL did not answer within the request's bound")]
    public static partial void DatabaseUnavailable(ILogger logger, string method, string path);
}
