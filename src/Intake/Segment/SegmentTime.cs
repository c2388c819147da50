using System.Globalization;

namespace Pipeline.Intake;

/// <summary>
/// When a Segment call happened: for a live call, corrected for the device's clock the way Segment corrects it; for an
/// imported one, as its file recorded it (docs/import.md, "Segment messages").
/// </summary>
public static class SegmentTime
{
    /// <summary>Parses an ISO-8601 time with an offset; null if absent, false if unreadable.</summary>
    public static bool TryParse(string? value, out DateTimeOffset? time)
    {
        time = null;
        if (value is null)
        {
            return true;
        }
        if (!DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var parsed)
            || !IncomingEventValidator.HasOffset(value))
        {
            return false;
        }
        time = parsed.ToUniversalTime();
        return true;
    }

    /// <summary>
    /// <c>receivedAt - (sentAt - originalTimestamp)</c> when the client sent both (its clock's error cancels out);
    /// else the time it gave; else <paramref name="receivedAt"/>. <c>originalTimestamp</c> falls back to <c>timestamp</c>,
    /// which is where the server libraries put the time of the call.
    /// </summary>
    public static DateTimeOffset OccurredAt(SegmentMessage message, DateTimeOffset receivedAt)
    {
        ArgumentNullException.ThrowIfNull(message);
        var original = TryParse(message.OriginalTimestamp ?? message.Timestamp, out var o) ? o : null;
        var sentAt = TryParse(message.SentAt, out var s) ? s : null;
        return original is { } at
            ? sentAt is { } sent ? receivedAt - (sent - at) : at
            : receivedAt;
    }

    /// <summary>
    /// An imported message's own time, with no correction from the import's clock: <c>timestamp</c> (in Segment's archives,
    /// already corrected by Segment when it received the call), else <c>originalTimestamp</c>, else the archive's
    /// <c>receivedAt</c>, else <paramref name="importedAt"/>.
    /// </summary>
    public static DateTimeOffset Recorded(SegmentMessage message, DateTimeOffset importedAt)
    {
        ArgumentNullException.ThrowIfNull(message);
        foreach (var value in new[] { message.Timestamp, message.OriginalTimestamp, ServerReceivedAt(message) })
        {
            if (value is not null && TryParse(value, out var at) && at is { } time)
            {
                return time;
            }
        }
        return importedAt;
    }

    /// <summary>The <c>receivedAt</c> Segment's servers add to an archived message (kept in <c>extra</c>), if it is text.</summary>
    public static string? ServerReceivedAt(SegmentMessage message) =>
        message?.Extra is { } extra && extra.TryGetValue("receivedAt", out var value) && value.ValueKind == System.Text.Json.JsonValueKind.String
            ? value.GetString() : null;
}
