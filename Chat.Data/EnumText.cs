using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Chat.Data;

/// <summary>Stores enums as lower-case text (readable in psql, guarded by check constraints).</summary>
public static class EnumText
{
    internal static ValueConverter<TEnum, string> Converter<TEnum>() where TEnum : struct, Enum =>
        new(v => v.ToString().ToLowerInvariant(), s => Parse<TEnum>(s));

    /// <summary>The enum value a column holds, for code that reads rows without EF Core (<see cref="MessagePageSql"/>).</summary>
    public static TEnum Parse<TEnum>(string text) where TEnum : struct, Enum => Enum.Parse<TEnum>(text, ignoreCase: true);
}
