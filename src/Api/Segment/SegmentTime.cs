using System.Globalization;

namespace Pipeline.Api.Segment;

/// <summary>When a Segment call happened, corrected for the device's clock the way Segment corrects it.</summary>
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
}
