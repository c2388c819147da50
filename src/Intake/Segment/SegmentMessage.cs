using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Intake;

/// <summary>
/// One call of Segment's HTTP Tracking API: the Spec's common fields and each call's own. Every field a client may
/// send that is not named here is kept in <see cref="Extra"/>, so nothing sent is lost.
/// </summary>
public sealed record SegmentMessage
{
    /// <summary><c>track</c>, <c>identify</c>, <c>page</c>, <c>screen</c>, <c>group</c> or <c>alias</c>; implied by the path of a single call.</summary>
    public string? Type { get; init; }

    /// <summary>The client's unique id of the call: a resend with the same id (and write key) is stored once.</summary>
    public string? MessageId { get; init; }

    /// <summary>The known user. At least one of <c>userId</c> and <c>anonymousId</c> is required.</summary>
    public string? UserId { get; init; }

    /// <summary>The anonymous visitor. At least one of <c>userId</c> and <c>anonymousId</c> is required.</summary>
    public string? AnonymousId { get; init; }

    /// <summary>track: the event's name, e.g. <c>Order Completed</c> (required).</summary>
    public string? Event { get; init; }

    /// <summary>page, screen: the name of the page or screen.</summary>
    public string? Name { get; init; }

    /// <summary>page: the page's category.</summary>
    public string? Category { get; init; }

    /// <summary>group: the group (required).</summary>
    public string? GroupId { get; init; }

    /// <summary>alias: the user's previous id (required).</summary>
    public string? PreviousId { get; init; }

    /// <summary>When the call happened, by the client's clock (ISO-8601 with offset).</summary>
    public string? Timestamp { get; init; }

    /// <summary>When the call was made on the device, by its clock (ISO-8601 with offset).</summary>
    public string? OriginalTimestamp { get; init; }

    /// <summary>When the client sent it, by its clock (ISO-8601 with offset); with a timestamp, corrects the device's clock skew.</summary>
    public string? SentAt { get; init; }

    /// <summary>track, page, screen: the call's properties (a JSON object).</summary>
    public JsonElement? Properties { get; init; }

    /// <summary>identify, group: the user's or group's traits (a JSON object).</summary>
    public JsonElement? Traits { get; init; }

    /// <summary>Context: <c>ip</c>, <c>userAgent</c>, <c>library</c>, <c>page</c>, <c>traits</c>... (a JSON object).</summary>
    public JsonElement? Context { get; init; }

    /// <summary>Destinations the call is meant for (a JSON object); kept as sent.</summary>
    public JsonElement? Integrations { get; init; }

    /// <summary>The write key (an API key), when the client sends it in the body rather than in HTTP Basic auth. Never stored.</summary>
    public string? WriteKey { get; init; }

    /// <summary>Any other field, as sent.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }
}

/// <summary>The envelope of <c>/v1/batch</c>.</summary>
public sealed record SegmentBatch
{
    /// <summary>The calls, each with its <c>type</c> (read one by one, so each error names its item).</summary>
    public IReadOnlyList<JsonElement>? Batch { get; init; }

    /// <summary>Merged into each call's context (the call's own keys win).</summary>
    public JsonElement? Context { get; init; }

    /// <summary>Merged into each call's integrations (the call's own keys win).</summary>
    public JsonElement? Integrations { get; init; }

    /// <summary>When the client sent the batch: the <c>sentAt</c> of calls that have none.</summary>
    public string? SentAt { get; init; }

    /// <summary>The write key, when not sent in HTTP Basic auth.</summary>
    public string? WriteKey { get; init; }
}
