namespace Chat.Llm.Generation;

/// <summary>
/// This process as the owner of generation leases: host, process id and a random suffix, so a restarted process
/// (same host, maybe the same pid) never mistakes an old lease for its own. At most 128 characters (the column's size).
/// </summary>
public sealed class GenerationOwner
{
    public GenerationOwner()
    {
        var id = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";
        Id = id.Length <= 128 ? id : id[^128..];
    }

    public string Id { get; }
}
