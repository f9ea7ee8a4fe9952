using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Chat.Data;

/// <summary>Stores enums as lower-case text (readable in psql, guarded by check constraints).</summary>
internal static class EnumText
{
    public static ValueConverter<TEnum, string> Converter<TEnum>() where TEnum : struct, Enum =>
        new(v => v.ToString().ToLowerInvariant(), s => Enum.Parse<TEnum>(s, true));
}
