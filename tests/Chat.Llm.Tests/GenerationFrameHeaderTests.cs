using System.Text;
using Chat.Messaging.Contracts;

namespace Chat.Llm.Tests;

/// <summary>The streaming tier's header-only read of a published frame agrees with the full contract.</summary>
public sealed class GenerationFrameHeaderTests
{
    public static TheoryData<string> Frames()
    {
        var (conversation, generation, message) = (Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7());
        return new TheoryData<string>
        {
            new GenerationFrame { Type = FrameTypes.Started, ConversationId = conversation, GenerationId = generation, Seq = 0, MessageId = message, Model = "m", Provider = "p" }.ToJson(),
            new GenerationFrame { Type = FrameTypes.Chunk, ConversationId = conversation, GenerationId = generation, Seq = 7, Delta = "h\u00e9llo \"quoted\" {not: json}" }.ToJson(),
            new GenerationFrame { Type = FrameTypes.Completed, ConversationId = conversation, GenerationId = generation, Seq = 9, MessageId = message, FinishReason = "stop", Usage = new FrameUsage(1, 2, 3) }.ToJson(),
            new GenerationFrame { Type = FrameTypes.Failed, ConversationId = conversation, GenerationId = generation, Seq = 3, Code = "provider_error", Message = "boom" }.ToJson(),
            new GenerationFrame { Type = FrameTypes.Cancelled, ConversationId = conversation, GenerationId = generation, Seq = 4, MessageId = message }.ToJson(),
        };
    }

    [Theory]
    [MemberData(nameof(Frames))]
    public void HeaderMatchesTheFullyParsedFrame(string json)
    {
        var full = GenerationFrame.FromJson(json)!;
        Assert.True(GenerationFrameHeader.TryRead(Encoding.UTF8.GetBytes(json), out var header));
        Assert.Equal((full.Type, full.ConversationId, full.GenerationId, full.Seq, full.IsTerminal),
            (header.Type, header.ConversationId, header.GenerationId, header.Seq, header.IsTerminal));
        Assert.Same(string.IsInterned(header.Type), header.Type); // the interned constant, not a new string
    }

    [Fact]
    public void AChunkFrameCarriesOnlyTheDocumentedFields()
    {
        var json = new GenerationFrame { Type = FrameTypes.Chunk, ConversationId = Guid.CreateVersion7(), GenerationId = Guid.CreateVersion7(), Seq = 1, Delta = "hi" }.ToJson();
        using var frame = System.Text.Json.JsonDocument.Parse(json);
        Assert.Equal(["type", "conversationId", "generationId", "seq", "delta"], frame.RootElement.EnumerateObject().Select(p => p.Name));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{not json")]
    [InlineData("[1,2]")]
    [InlineData("{\"type\":\"chunk\",\"generationId\":\"01a21a83-cb5c-7106-8b5f-aa2ccc52e1d3\",\"seq\":1}")]
    [InlineData("{\"type\":\"chunk\",\"conversationId\":\"nope\",\"generationId\":\"01a21a83-cb5c-7106-8b5f-aa2ccc52e1d3\",\"seq\":1}")]
    [InlineData("{\"type\":\"chunk\",\"conversationId\":\"01a21a83-cb5c-7106-8b5f-aa2ccc52e1d3\",\"generationId\":\"01a21a83-cb5c-7106-8b5f-aa2ccc52e1d3\",\"seq\":\"1\"}")]
    public void MalformedOrIncompleteFramesAreRefused(string json) =>
        Assert.False(GenerationFrameHeader.TryRead(Encoding.UTF8.GetBytes(json), out _));

    [Fact]
    public void UnknownPropertiesAndNestedObjectsAreSkipped()
    {
        var json = """{"extra":{"a":[1,{"b":2}]},"seq":5,"type":"chunk","generationId":"01a21a83-cb5c-7106-8b5f-aa2ccc52e1d3","conversationId":"01a21a83-cb5c-7106-8b5f-aa2ccc52e1d4","delta":"x"}""";
        Assert.True(GenerationFrameHeader.TryRead(Encoding.UTF8.GetBytes(json), out var header));
        Assert.Equal(5, header.Seq);
        Assert.Equal(Guid.Parse("01a21a83-cb5c-7106-8b5f-aa2ccc52e1d4"), header.ConversationId);
    }
}
