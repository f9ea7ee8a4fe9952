using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Chat.Api.Infrastructure;

/// <summary>
/// An opaque keyset position: a timestamp and an id (the sort key of conversations and messages). Clients get it
/// as base64url text and must not parse it; the prefix versions the format and tells the two lists apart.
/// </summary>
public readonly record struct KeysetCursor(DateTimeOffset At, Guid Id)
{
    public const string ConversationKind = "c1";
    public const string MessageKind = "m1";

    /// <summary>A position after every row: reading <c>before</c> it gives the newest page.</summary>
    public static KeysetCursor End { get; } = new(DateTimeOffset.MaxValue, Guid.AllBitsSet);

    public string Encode(string kind) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(
            string.Create(CultureInfo.InvariantCulture, $"{kind}|{At.UtcTicks}|{Id:N}")));

    public static bool TryDecode(string? text, string kind, [NotNullWhen(true)] out KeysetCursor? cursor)
    {
        cursor = null;
        if (string.IsNullOrEmpty(text) || text.Length > 200)
        {
            return false;
        }
        byte[] bytes;
        try
        {
            bytes = Base64Url.DecodeFromChars(text);
        }
        catch (FormatException)
        {
            return false;
        }
        var parts = Encoding.UTF8.GetString(bytes).Split('|');
        if (parts.Length != 3 || parts[0] != kind
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            || ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks
            || !Guid.TryParseExact(parts[2], "N", out var id))
        {
            return false;
        }
        cursor = new KeysetCursor(new DateTimeOffset(ticks, TimeSpan.Zero), id);
        return true;
    }
}
