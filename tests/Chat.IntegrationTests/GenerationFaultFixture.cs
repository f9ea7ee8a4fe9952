namespace Chat.IntegrationTests;

/// <summary>
/// An app host of its own for tests that kill parts of it (a chat-api replica, Redis, PostgreSQL), so no other test
/// sees the fault. Replies of the local model last ~20 s (20 tokens/s, at least 400 tokens): long enough to kill
/// something in the middle of many at once, even on a loaded machine.
/// </summary>
public sealed class GenerationFaultFixture() : ChatAppFixture(["--Llm:Local:TokensPerSecond=20", "--Llm:Local:MinReplyTokens=400"]);

[CollectionDefinition(Name)]
public sealed class GenerationFaultCollection : ICollectionFixture<GenerationFaultFixture>
{
    public const string Name = "generation-faults";
}
