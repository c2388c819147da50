using Pipeline.Storage;

namespace Pipeline.Archive;

/// <summary>The archive's hours: its partitions are hours of receipt (<see cref="HourEvents"/> reads one).</summary>
public static class ArchiveReader
{
    /// <summary>The hours that overlap [<paramref name="from"/>, <paramref name="to"/>), oldest first.</summary>
    public static IEnumerable<DateTimeOffset> Hours(DateTimeOffset from, DateTimeOffset to)
    {
        for (var hour = EventLayout.Hour(from); hour < to; hour = hour.AddHours(1))
        {
            yield return hour;
        }
    }
}
