using System.Text.Json;

namespace Pipeline.Api.Events;

/// <summary>An event as a client sends it.</summary>
public sealed record IncomingEvent
{
    /// <summary>Required. A short identifier: a letter, then letters, digits, <c>_ . : -</c> (at most 64), e.g. <c>page_view</c>.</summary>
    public string? EventType { get; init; }

    /// <summary>The known user. At least one of <c>userId</c> and <c>anonymousId</c> is required.</summary>
    public string? UserId { get; init; }

    /// <summary>The anonymous visitor. At least one of <c>userId</c> and <c>anonymousId</c> is required.</summary>
    public string? AnonymousId { get; init; }

    /// <summary>Optional ISO-8601 time with offset, e.g. <c>2026-11-24T10:15:00Z</c>; defaults to the receive time.</summary>
    public string? OccurredAt { get; init; }

    /// <summary>Optional JSON object of free-form properties (bounded depth and size).</summary>
    public JsonElement? Properties { get; init; }

    /// <summary>Optional client-chosen id (1–128 of <c>A-Z a-z 0-9 _ . : -</c>) that makes retries safe; or send the Idempotency-Key header.</summary>
    public string? EventId { get; init; }
}

/// <summary>A batch of events.</summary>
public sealed record EventBatch
{
    /// <summary>The events, in order.</summary>
    public IReadOnlyList<IncomingEvent?>? Events { get; init; }
}

/// <summary>The answer to an accepted event.</summary>
/// <param name="EventId">The id the event is stored under.</param>
public sealed record AcceptedEvent(string EventId);

/// <summary>The outcome of one item of a batch.</summary>
/// <param name="Index">The item's position in the batch.</param>
/// <param name="Status"><c>accepted</c>, <c>invalid</c> (see errors) or <c>unavailable</c> (the queue failed; retry it).</param>
/// <param name="EventId">The id, when the item is valid.</param>
/// <param name="Errors">Field errors, when the item is invalid.</param>
public sealed record BatchItemResult(int Index, string Status, string? EventId, IDictionary<string, string[]>? Errors);

/// <summary>The answer to a batch: one result per item, in order.</summary>
/// <param name="Accepted">How many items were accepted.</param>
/// <param name="Rejected">How many items were invalid.</param>
/// <param name="Unavailable">How many valid items the queue could not take (retry them).</param>
/// <param name="Items">The items' results, in order.</param>
public sealed record BatchResult(int Accepted, int Rejected, int Unavailable, IReadOnlyList<BatchItemResult> Items);
