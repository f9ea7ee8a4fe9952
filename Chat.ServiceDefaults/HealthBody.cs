using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.Extensions.Hosting;

/// <summary>The JSON body of <c>/health</c> and <c>/alive</c>.</summary>
public sealed record HealthBody(
    string Status,
    string Service,
    string Version,
    IReadOnlyDictionary<string, string> Checks,
    double DurationMs);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(HealthBody))]
internal sealed partial class HealthJsonContext : JsonSerializerContext;
