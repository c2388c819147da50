using Pipeline.Events;

namespace Pipeline.Intake;

/// <summary>A record read as an event: the queued event (its id still to be given), its own id if it has one, or why it is refused.</summary>
/// <param name="Event">The event, or null if refused.</param>
/// <param name="OwnId">The id the row carries (an <c>eventId</c>, or a Segment message's id), or null: one is then derived.</param>
/// <param name="Problems">Why the row is refused.</param>
public readonly record struct ParsedRow(QueuedEvent? Event, string? OwnId, IReadOnlyList<string> Problems)
{
    /// <summary>A refused row.</summary>
    public static ParsedRow Refused(params string[] problems) => new(null, null, problems);
}

/// <summary>When and by whom a file's rows are imported: what every row of one invocation shares.</summary>
/// <param name="ReceivedAt">The import time: each event's <c>receivedAt</c>.</param>
/// <param name="RequestId">Each event's <c>requestId</c> (<c>import-</c> and the invocation's).</param>
/// <param name="MaxAge">The oldest time a row may have.</param>
/// <param name="Clock">The clock the time limits are checked by.</param>
public sealed record ImportContext(DateTimeOffset ReceivedAt, string RequestId, TimeSpan MaxAge, TimeProvider Clock);

/// <summary>Reads one format's records as events (<see cref="ImportFormat"/>).</summary>
public interface IRowParser
{
    /// <summary>
    /// Bytes hashed before each record's for its derived id: empty for JSON Lines; a CSV file's header, so the same
    /// cells under other columns are another row.
    /// </summary>
    ReadOnlyMemory<byte> IdentityPrefix { get; }

    /// <summary>The record as an event, or why it is refused.</summary>
    ParsedRow Parse(ReadOnlySpan<byte> record);
}
