namespace Chat.Data;

/// <summary>Column sizes, shared by the schema and the API's validation.</summary>
public static class Limits
{
    public const int IdentifierLength = 128;
    public const int TitleLength = 200;
    public const int ModelLength = 100;

    /// <summary>Validated by the API (the column is text).</summary>
    public const int SystemPromptLength = 32 * 1024;
}
