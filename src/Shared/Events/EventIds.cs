using System.Text.RegularExpressions;

namespace Pipeline.Events;

/// <summary>
/// What an event id may be, written once: the Api checks an <c>eventId</c> and an <c>Idempotency-Key</c> against it, and
/// the Processor rejects a queued event whose id breaks it.
/// </summary>
public static partial class EventIds
{
    /// <summary>An event id or idempotency key: 1 to 128 of <c>A-Z a-z 0-9 _ . : -</c>.</summary>
    [GeneratedRegex("^[A-Za-z0-9_.:-]{1,128}$")]
    public static partial Regex Pattern();
}
