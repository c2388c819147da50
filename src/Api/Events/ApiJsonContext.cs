using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Api.Events;

/// <summary>Source-generated JSON for the API's request and response shapes.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(IncomingEvent))]
[JsonSerializable(typeof(EventBatch))]
[JsonSerializable(typeof(AcceptedEvent))]
[JsonSerializable(typeof(BatchResult))]
[JsonSerializable(typeof(IReadOnlyList<BatchItemResult>))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(SegmentMessage))]
[JsonSerializable(typeof(SegmentBatch))]
[JsonSerializable(typeof(Pipeline.Api.Segment.SegmentSuccess))]
public sealed partial class ApiJsonContext : JsonSerializerContext;
