using System.Globalization;
using System.Net.WebSockets;
using Chat.ServiceDefaults.Authentication;
using Chat.Streaming.Protocol;
using Chat.Streaming.Services;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Chat.Streaming.Apis;

/// <summary>The <c>/ws</c> endpoint speaking chat.v1 (docs/PROTOCOL.md).</summary>
public static class WebSocketApi
{
    public const string Path = "/ws";

    /// <summary>
    /// Serves <c>/ws</c> ahead of the authentication and authorization middleware, which it does not need: the handshake
    /// authenticates itself (<see cref="ConnectAsync"/>). A middleware on a socket's path stays on its stack, with its
    /// per-request state, for the socket's life (hours), so these two stay off it (~0.4 KB per socket). They are
    /// placed explicitly after the branch, which also keeps ASP.NET Core from adding them around the whole pipeline.
    /// </summary>
    public static WebApplication UseWebSocketApi(this WebApplication app)
    {
        app.UseWebSockets();
        app.MapWhen(context => context.Request.Path.Equals(Path, StringComparison.OrdinalIgnoreCase), ws => ws.Run(context =>
        {
            var services = context.RequestServices;
            return ConnectAsync(context, services.GetRequiredService<ConnectionServices>(),
                services.GetRequiredService<ConnectionRegistry>(), services.GetRequiredService<IOptions<StreamingOptions>>());
        }));
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }

    /// <summary>
    /// Authentication happens here rather than in middleware: a browser cannot read an HTTP 401 on a failed upgrade, so
    /// the socket is accepted, told why in an <c>error</c> frame, and closed with 4401 (or 4403 without chat.read).
    /// </summary>
    public static async Task ConnectAsync(
        HttpContext context,
        ConnectionServices services,
        ConnectionRegistry registry,
        IOptions<StreamingOptions> options)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await Problem(StatusCodes.Status426UpgradeRequired, "websocket_required", "WebSocket upgrade required",
                "Connect to /ws with a WebSocket client and the chat.v1 subprotocol.").ExecuteAsync(context);
            return;
        }
        var requested = context.WebSockets.WebSocketRequestedProtocols;
        if (requested.Count > 0 && !requested.Contains(ChatProtocol.SubProtocol))
        {
            await Problem(StatusCodes.Status400BadRequest, "unsupported_subprotocol", "Unsupported subprotocol",
                $"This server speaks '{ChatProtocol.SubProtocol}'.").ExecuteAsync(context);
            return;
        }

        var auth = await AuthenticateHandshakeAsync(context);
        var settings = options.Value;
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            SubProtocol = requested.Count > 0 ? ChatProtocol.SubProtocol : null,
            KeepAliveInterval = settings.HeartbeatInterval,
            KeepAliveTimeout = settings.IdleTimeout,
        });

        if (auth.User is not { } user)
        {
            var expired = auth.Expired;
            await RefuseAsync(socket, settings, CloseCodes.Unauthorized,
                expired ? ErrorCodes.TokenExpired : ErrorCodes.Unauthorized,
                expired ? "The access token expired." : "A valid bearer token is required (Authorization header or access_token query).",
                context.RequestAborted);
            return;
        }
        if (!user.HasScope(ChatScopes.Read))
        {
            await RefuseAsync(socket, settings, CloseCodes.Forbidden, ErrorCodes.Forbidden, "The token lacks the chat.read scope.", context.RequestAborted);
            return;
        }

        using var connection = new ChatConnection(socket, user, ReadToken(context), auth.ExpiresAt, services);
        registry.Add(connection);
        try
        {
            await connection.RunAsync();
        }
        finally
        {
            registry.Remove(connection);
        }
    }

    /// <summary>What the handshake keeps of a token: the user, the expiry, and whether a refusal was for expiry.</summary>
    private readonly record struct Handshake(ChatUser? User, DateTimeOffset? ExpiresAt, bool Expired);

    /// <summary>
    /// Validates the bearer token with a JwtBearer handler of its own rather than <c>HttpContext.AuthenticateAsync</c>:
    /// the request's handler caches its result (principal, claims, parsed token, about 4 KB) for as long as the
    /// request lives, which for a socket is hours. Only <see cref="Handshake"/> outlives this call.
    /// </summary>
    private static async Task<Handshake> AuthenticateHandshakeAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var scheme = await services.GetRequiredService<IAuthenticationSchemeProvider>().GetSchemeAsync(JwtBearerDefaults.AuthenticationScheme)
            ?? throw new InvalidOperationException("The JwtBearer scheme is not registered (AddChatAuthentication).");
        var handler = new JwtBearerHandler(
            services.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>(),
            services.GetRequiredService<ILoggerFactory>(),
            services.GetRequiredService<System.Text.Encodings.Web.UrlEncoder>());
        await handler.InitializeAsync(scheme, context);
        var result = await handler.AuthenticateAsync();
        return result.Succeeded && result.Principal is not null && ChatUser.TryFrom(result.Principal, out var user)
            ? new Handshake(user, ReadExpiry(result.Principal), Expired: false)
            : new Handshake(null, null, result.Failure is SecurityTokenExpiredException);
    }

    private static async Task RefuseAsync(WebSocket socket, StreamingOptions settings, int closeCode, string code, string message, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(settings.CloseTimeout * 2);
        try
        {
            await socket.SendAsync(ServerFrames.Encode(new HelloFrame(
                ChatProtocol.SubProtocol, "chat-streaming", InstanceInfo.Id, settings.HeartbeatInterval.TotalSeconds, settings.MaxFrameBytes)),
                WebSocketMessageType.Text, true, timeout.Token);
            await socket.SendAsync(ServerFrames.Encode(new ErrorFrame(null, code, message)), WebSocketMessageType.Text, true, timeout.Token);
            await socket.CloseAsync((WebSocketCloseStatus)closeCode, code, timeout.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            socket.Abort();
        }
    }

    private static string ReadToken(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return header["Bearer ".Length..].Trim();
        }
        return QueryStringToken.Read(context.Request) ?? "";
    }

    private static DateTimeOffset? ReadExpiry(System.Security.Claims.ClaimsPrincipal principal) =>
        long.TryParse(principal.FindFirst("exp")?.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var exp)
            ? DateTimeOffset.FromUnixTimeSeconds(exp)
            : null;

    private static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult Problem(int status, string code, string title, string detail) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: status, extensions: new Dictionary<string, object?> { ["code"] = code });
}
