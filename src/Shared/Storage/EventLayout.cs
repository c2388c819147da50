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

    /// <summary>Formats a time as the table stores it.</summary>
    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    /// <summary>The Hive-style partition (<c>dt=YYYY-MM-DD/hour=HH</c>) of a time.</summary>
    public static string Partition(DateTimeOffset time) =>
        string.Create(CultureInfo.InvariantCulture, $"dt={time.UtcDateTime:yyyy-MM-dd}/hour={time.UtcDateTime:HH}");
}
