using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Pipeline.Storage;

/// <summary>
/// How events are laid out in the events table and the archive; shared by the Processor (writes)
/// and the Aggregator (reads). See the README's "Data layout".
/// </summary>
public static class EventLayout
{
    /// <summary>The table's global secondary index for time-window queries.</summary>
    public const string TimeBucketIndex = "byTimeBucket";

    /// <summary>
    /// Shards per hour bucket. A GSI partition takes about 1,000 writes/s; eight shards let a busy
    /// hour take about 8,000 events/s. Changing it orphans earlier buckets from the Aggregator's queries.
    /// </summary>
    public const int Shards = 8;

    /// <summary>The sortable UTC format of <c>receivedAt</c> in the table (fixed width, so text order is time order).</summary>
    public const string TimeFormat = "yyyy-MM-ddTHH:mm:ss.fffffffZ";

    /// <summary>Formats a time as the table stores it.</summary>
    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    /// <summary>The time bucket of an event: its receive hour and a shard derived from its id.</summary>
    public static string TimeBucket(DateTimeOffset receivedAt, string eventId) => Bucket(receivedAt, Shard(eventId));

    /// <summary>The bucket of an hour and shard.</summary>
    public static string Bucket(DateTimeOffset hour, int shard) =>
        string.Create(CultureInfo.InvariantCulture, $"{hour.UtcDateTime:yyyy-MM-ddTHH}#{shard}");

    /// <summary>A stable shard for an event id (from SHA-256: the same on every machine and run, unlike string.GetHashCode).</summary>
    public static int Shard(string eventId) => SHA256.HashData(Encoding.UTF8.GetBytes(eventId))[0] % Shards;

    /// <summary>Every bucket that may hold events received in [start, end).</summary>
    public static IEnumerable<string> BucketsFor(DateTimeOffset start, DateTimeOffset end)
    {
        var hour = new DateTimeOffset(start.UtcDateTime.Date.AddHours(start.UtcDateTime.Hour), TimeSpan.Zero);
        for (; hour < end; hour = hour.AddHours(1))
        {
            for (var shard = 0; shard < Shards; shard++)
            {
                yield return Bucket(hour, shard);
            }
        }
    }

    /// <summary>The Hive-style partition (<c>dt=YYYY-MM-DD/hour=HH</c>) of a time.</summary>
    public static string Partition(DateTimeOffset time) =>
        string.Create(CultureInfo.InvariantCulture, $"dt={time.UtcDateTime:yyyy-MM-dd}/hour={time.UtcDateTime:HH}");
}
