using System.Globalization;

namespace Pipeline.Storage;

/// <summary>
/// How events are laid out in the events table and the archive; shared by the Processor, the Aggregator and the
/// local commands. See the README's "Data layout".
/// </summary>
public static class EventLayout
{
    /// <summary>The sortable UTC format of <c>receivedAt</c> in the table (fixed width, so text order is time order).</summary>
    public const string TimeFormat = "yyyy-MM-ddTHH:mm:ss.fffffffZ";

    /// <summary>Where the stored events are archived, an object per Processor batch and receive hour.</summary>
    public const string EventsRoot = "events/";

    /// <summary>Where the Processor leaves a marker when it archives into an hour whose windows may be past their look-back.</summary>
    public const string LateRoot = "late/";

    /// <summary>Where the Processor writes what it rejected (each record with its reason), by the hour its message was sent.</summary>
    public const string RejectedRoot = "rejected/";

    /// <summary>Where the Aggregator compacts each hour of <see cref="EventsRoot"/> into one Parquet file.</summary>
    public const string ParquetRoot = "parquet/";

    /// <summary>Formats a time as the table stores it.</summary>
    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    /// <summary>The start of the UTC hour that contains <paramref name="time"/>.</summary>
    public static DateTimeOffset Hour(DateTimeOffset time) => new(time.UtcTicks - (time.UtcTicks % TimeSpan.TicksPerHour), TimeSpan.Zero);

    /// <summary>The Hive-style partition (<c>dt=YYYY-MM-DD/hour=HH</c>) of a time.</summary>
    public static string Partition(DateTimeOffset time) =>
        string.Create(CultureInfo.InvariantCulture, $"dt={time.UtcDateTime:yyyy-MM-dd}/hour={time.UtcDateTime:HH}");

    /// <summary>The prefix of the archive objects of the hour that contains <paramref name="time"/>.</summary>
    public static string EventsPrefix(DateTimeOffset time) => $"{EventsRoot}{Partition(time)}/";

    /// <summary>The prefix of the compacted hour that contains <paramref name="time"/>.</summary>
    public static string ParquetPrefix(DateTimeOffset time) => $"{ParquetRoot}{Partition(time)}/";

    /// <summary>
    /// The key of a Parquet file of the hour that contains <paramref name="time"/>, written by the compaction
    /// <paramref name="compaction"/>: each compaction writes a file of its own name, so no key is ever written twice (D17).
    /// </summary>
    public static string ParquetKey(DateTimeOffset time, string compaction) => $"{ParquetPrefix(time)}events-{compaction}.parquet";

    /// <summary>The hour a key under <see cref="EventsRoot"/>, <see cref="ParquetRoot"/> or <see cref="LateRoot"/> belongs to, from its partition; null if it has none.</summary>
    public static DateTimeOffset? HourOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var dt = key.IndexOf("/dt=", StringComparison.Ordinal);
        return dt >= 0 && key.Length >= dt + 23 && key.AsSpan(dt + 14, 6).SequenceEqual("/hour=")
            && DateTime.TryParseExact(
                key.AsSpan(dt + 4, 10), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var day)
            && int.TryParse(key.AsSpan(dt + 20, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var hour) && hour < 24
            ? new DateTimeOffset(day.AddHours(hour), TimeSpan.Zero)
            : null;
    }

    /// <summary>
    /// The key of a rejected record: under the hour its message was sent to the queue (SQS's <c>SentTimestamp</c>, the
    /// same at every delivery), named by that time and the message (and the event's position in a batch message). A
    /// redelivery rejected again writes the same key, so each record is one object, counted once, in one window.
    /// </summary>
    public static string RejectedKey(DateTimeOffset sent, string messageId, int? index) => string.Create(CultureInfo.InvariantCulture,
        $"{RejectedRoot}{Partition(sent)}/{sent.ToUnixTimeMilliseconds():D13}-{messageId}{(index is { } i ? $"-{i}" : "")}.json");

    /// <summary>The send time a <see cref="RejectedKey"/> names; null for a key of another form (written before it named one).</summary>
    public static DateTimeOffset? RejectedSent(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var name = key.AsSpan(key.LastIndexOf('/') + 1);
        return name.Length > 14 && name[13] == '-' && long.TryParse(name[..13], NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
            : null;
    }
}
