using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Intake;

/// <summary>Source-generated JSON for what a file's rows are read as: the reading of the web's defaults, as the Api reads its bodies.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(IncomingEvent))]
[JsonSerializable(typeof(SegmentMessage))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(bool))]
public sealed partial class IntakeJsonContext : JsonSerializerContext;
