namespace Chat.AppHost.Infrastructure;

/// <summary>Who the local servers run as: PostgreSQL refuses root, so as root it runs as the 'postgres' user.</summary>
internal static class LocalProcessUser
{
    public const string PostgresUser = "postgres";

    public static bool IsRoot => Environment.UserName == "root";

    /// <summary>The <c>setpriv</c> arguments that run the command after them as <see cref="PostgresUser"/>.</summary>
    public static readonly string[] AsPostgres = [$"--reuid={PostgresUser}", $"--regid={PostgresUser}", "--init-groups", "--"];

    public static bool PostgresUserExists() =>
        File.Exists("/etc/passwd") && File.ReadLines("/etc/passwd").Any(l => l.StartsWith(PostgresUser + ":", StringComparison.Ordinal));

    /// <summary>The per-user default data directory (see <see cref="InfrastructureOptions.DataDirectory"/>).</summary>
    public static string DefaultDataDirectory()
    {
        if (IsRoot)
        {
            return "/var/lib/chat";
        }
        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(string.IsNullOrEmpty(xdg) ? Path.Combine(home, ".local", "share") : xdg, "chat");
    }
}
