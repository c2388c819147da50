using System.Text.Json;

namespace Pipeline.Intake;

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
