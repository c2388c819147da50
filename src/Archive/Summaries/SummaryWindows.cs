namespace Pipeline.Summaries;

/// <summary>A half-open time window [Start, End).</summary>
public readonly record struct SummaryWindow(DateTimeOffset Start, DateTimeOffset End);

/// <summary>Window arithmetic: windows are aligned to the Unix epoch, so every run agrees on them.</summary>
public static class SummaryWindows
{
    /// <summary>The window that contains <paramref name="time"/>.</summary>
    public static SummaryWindow Containing(DateTimeOffset time, TimeSpan length)
    {
        var ticks = time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        var start = DateTimeOffset.UnixEpoch.AddTicks(ticks - (((ticks % length.Ticks) + length.Ticks) % length.Ticks));
        return new SummaryWindow(start, start + length);
    }

    /// <summary>
    /// The complete windows due at <paramref name="now"/>: every window from the one containing <paramref name="from"/>
    /// that ended at least <paramref name="settle"/> ago, oldest first, at most <paramref name="max"/>.
    /// </summary>
    public static IReadOnlyList<SummaryWindow> Due(DateTimeOffset now, TimeSpan length, TimeSpan settle, DateTimeOffset from, int max)
    {
        var latest = Containing(now - settle, length);
        var latestComplete = new SummaryWindow(latest.Start - length, latest.Start);
        var first = Containing(from, length);
        var due = new List<SummaryWindow>();
        for (var w = first; w.End <= latestComplete.End && due.Count < max; w = new SummaryWindow(w.End, w.End + length))
        {
            due.Add(w);
        }
        return due;
    }
}
