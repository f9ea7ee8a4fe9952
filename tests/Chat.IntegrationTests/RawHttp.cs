using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Chat.IntegrationTests;

/// <summary>Sends an HTTP/1.1 request exactly as written (for requests HttpClient will not make) and reads the answer.</summary>
public static class RawHttp
{
    public static async Task<(int Status, Dictionary<string, string> Headers, string Body)> SendAsync(Uri server, string request)
    {
        using var cts = new CancellationTokenSource(ChatAppFixture.StepTimeout);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Host, server.Port, cts.Token);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), cts.Token);
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, cts.Token); // Connection: close, so the server ends the stream
        var text = Encoding.UTF8.GetString(buffer.ToArray());

        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var lines = text[..split].Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        var body = text[(split + 4)..];
        return (status, headers, headers.GetValueOrDefault("transfer-encoding") == "chunked" ? Dechunk(body) : body);
    }

    private static string Dechunk(string body)
    {
        var result = new StringBuilder();
        for (var at = 0; ;)
        {
            var end = body.IndexOf("\r\n", at, StringComparison.Ordinal);
            var size = int.Parse(body[at..end], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (size == 0)
            {
                return result.ToString();
            }
            result.Append(body, end + 2, size);
            at = end + 2 + size + 2;
        }
    }
}
