using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Events;

/// <summary>
/// An accepted, enriched event as the Api puts it on the queue and the Processor reads it:
/// the contract between the two. Field names are camelCase JSON.
/// </summary>
public sealed record QueuedEvent
{
    /// <summary>The version of this shape; the Processor rejects versions it does not know.</summary>
    public const int CurrentSchemaVersion = 1;

    /// <summary>The shape's version.</summary>
    public required int SchemaVersion { get; init; }

    /// <summary>The event's unique id: the client's (body or Idempotency-Key) or a UUIDv7.</summary>
    public required string EventId { get; init; }

    /// <summary>A short identifier such as <c>page_view</c> or <c>checkout.completed</c>.</summary>
    public required string EventType { get; init; }

    /// <summary>The known user, if any.</summary>
    public string? UserId { get; init; }

    /// <summary>The anonymous visitor, if any.</summary>
    public string? AnonymousId { get; init; }

    /// <summary>When the event happened (the client's time, or <see cref="ReceivedAt"/>).</summary>
    public required DateTimeOffset OccurredAt { get; init; }

    /// <summary>When the Api received it (UTC).</summary>
    public required DateTimeOffset ReceivedAt { get; init; }

    /// <summary>The client's IP address, as seen by the trusted proxy.</summary>
    public string? SourceIp { get; init; }

    /// <summary>The client's User-Agent header.</summary>
    public string? UserAgent { get; init; }

    /// <summary>The id of the request that carried it.</summary>
    public required string RequestId { get; init; }

    /// <summary>Free-form event properties (a JSON object).</summary>
    public JsonElement? Properties { get; init; }
}

/// <summary>Source-generated JSON for the event contract (no reflection, trimming-safe).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(QueuedEvent))]
public sealed partial class EventJsonContext : JsonSerializerContext;
