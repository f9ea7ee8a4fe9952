// Usage: dotnet run --project samples/Chat.StreamingSample -- <gateway-url> <token> <conversation-id> [message]
// Sends a message, streams the answer, drops the socket half-way and resumes on a new connection (any replica).
using Chat.StreamingSample;

if (args.Length < 3)
{
    Console.Error.WriteLine("usage: Chat.StreamingSample <gateway-url> <bearer-token> <conversation-id> [message]");
    return 2;
}
var gateway = new Uri(args[0]);
var token = args[1];
var conversationId = Guid.Parse(args[2]);
var content = args.Length > 3 ? args[3] : "Tell me a short story.";
using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));

await using var client = new ChatStreamClient(gateway, _ => Task.FromResult(token));
await client.ConnectAsync(cts.Token);
Console.WriteLine($"connected to {client.Instance}");

var ack = await client.SendMessageAsync(conversationId, content, cts.Token);
var generationId = Guid.Parse(ack["generationId"]!.ToString());
Console.WriteLine($"ack: message {ack["messageId"]}, generation {generationId}");

var chunks = 0;
await foreach (var frame in client.StreamAsync(conversationId, generationId, after: -1, cts.Token))
{
    switch (frame["type"]!.GetValue<string>())
    {
        case "chunk":
            Console.Write(frame["delta"]);
            if (++chunks == 5)
            {
                client.Abort(); // simulate a dropped connection: the stream resumes with `after` on a new socket
            }
            break;
        case "generation.completed":
            Console.WriteLine($"\n[completed: {frame["finishReason"]}, seq {frame["seq"]}]");
            break;
        default:
            Console.WriteLine($"\n[{frame["type"]}]");
            break;
    }
}
Console.WriteLine($"now on {client.Instance}");
return 0;
