using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Events;

/// <summary>
/// An accepted, enriched event as the Api puts it on the queue and the Processor reads it:
/// the contract between the two. Field names are camelCase JSON.
/// </summary>
public sealed record QueuedEvent
{
    /// <summary>
    /// The version of the queue's contract. 2 added the Segment fields (<see cref="Type"/> and after; README
    /// "Segment-compatible API"), all optional, so a version-1 event is a valid version-2 event. 3 added batch messages
    /// (<see cref="EventBatchMessage"/>); the event's shape is 2's. 4 added <see cref="Plan"/> (the tracking plan's
    /// verdict), optional. A Processor retries versions newer than its own, so the Processor is deployed first.
    /// </summary>
    public const int CurrentSchemaVersion = 4;

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

    /// <summary>For events sent to the Segment-compatible API: the call (<c>track</c>, <c>identify</c>, <c>page</c>, <c>screen</c>, <c>group</c>, <c>alias</c>).</summary>
    public string? Type { get; init; }

    /// <summary>The client's <c>messageId</c>, as sent (the <see cref="EventId"/> is derived from it and the write key).</summary>
    public string? MessageId { get; init; }

    /// <summary>The page or screen name (page, screen).</summary>
    public string? Name { get; init; }

    /// <summary>The page category (page).</summary>
    public string? Category { get; init; }

    /// <summary>The group (group).</summary>
    public string? GroupId { get; init; }

    /// <summary>The user's previous id (alias).</summary>
    public string? PreviousId { get; init; }

    /// <summary>Traits of the user (identify) or group (group): a JSON object.</summary>
    public JsonElement? Traits { get; init; }

    /// <summary>The call's context (a JSON object); <c>ip</c> is the request's unless the client set it.</summary>
    public JsonElement? Context { get; init; }

    /// <summary>The call's <c>integrations</c> (a JSON object), kept as sent.</summary>
    public JsonElement? Integrations { get; init; }

    /// <summary>The client's <c>timestamp</c>, as sent.</summary>
    public string? Timestamp { get; init; }

    /// <summary>The client's <c>originalTimestamp</c>, as sent.</summary>
    public string? OriginalTimestamp { get; init; }

    /// <summary>The client's <c>sentAt</c> (the message's, else the batch's), as sent.</summary>
    public string? SentAt { get; init; }

    /// <summary>Every other top-level field of the call, as sent (a JSON object), so nothing the client sent is lost.</summary>
    public JsonElement? Extra { get; init; }

    /// <summary>What the tracking plan said of the event; null when no plan is set.</summary>
    public PlanCheck? Plan { get; init; }

    /// <summary>For an imported event: the file it came from (<c>s3://bucket/key</c>); null for the Api's events (docs/import.md).</summary>
    public string? ImportFile { get; init; }

    /// <summary>For an imported event: its line in <see cref="ImportFile"/>, from 1.</summary>
    public long? ImportLine { get; init; }

    /// <summary>The JSON objects of the event, by field name, for checks that apply to each (storable, depth).</summary>
    public IEnumerable<(string Name, JsonElement Value)> Objects()
    {
        if (Properties is { } properties) yield return ("properties", properties);
        if (Traits is { } traits) yield return ("traits", traits);
        if (Context is { } context) yield return ("context", context);
        if (Integrations is { } integrations) yield return ("integrations", integrations);
        if (Extra is { } extra) yield return ("extra", extra);
    }
}

/// <summary>Source-generated JSON for the event contract (no reflection, trimming-safe).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(QueuedEvent))]
[JsonSerializable(typeof(PlanCheck))]
public sealed partial class EventJsonContext : JsonSerializerContext;
