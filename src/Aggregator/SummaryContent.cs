using Pipeline.Summaries;

namespace Pipeline.Aggregator;

/// <summary>What a summary says, made from a window's counts and the facts fetched beside them, with no I/O; and whether two say the same.</summary>
public static class SummaryContent
{
    /// <summary>
    /// The summary of <paramref name="window"/>. Event types are the clients' to choose: the <paramref name="topEventTypes"/>
    /// most frequent are listed (and as many plan violations), the rest totalled, so a summary always fits SNS's 256 KB.
    /// </summary>
    public static Summary From(SummaryWindow window, WindowCounts counts, int revision, int topEventTypes, long rejected, long deadLetterDepth, DateTimeOffset generatedAt)
    {
        ArgumentNullException.ThrowIfNull(counts);
        var top = counts.ByEventType.OrderByDescending(t => t.Value).ThenBy(t => t.Key, StringComparer.Ordinal).Take(topEventTypes).ToList();
        return new Summary
        {
            WindowStart = window.Start,
            WindowEnd = window.End,
            TotalEvents = counts.Total,
            ByEventType = new SortedDictionary<string, long>(top.ToDictionary(t => t.Key, t => t.Value), StringComparer.Ordinal),
            EventTypes = counts.ByEventType.Count,
            PlanViolations = new SortedDictionary<string, long>(counts.FlaggedByEventType.OrderByDescending(t => t.Value).ThenBy(t => t.Key, StringComparer.Ordinal)
                .Take(topEventTypes).ToDictionary(t => t.Key, t => t.Value), StringComparer.Ordinal),
            OtherEvents = counts.Total - top.Sum(t => t.Value),
            UniqueUsers = counts.UniqueUsers,
            UniqueAnonymousIds = counts.UniqueAnonymousIds,
            Rejected = rejected,
            DeadLetterDepth = deadLetterDepth,
            GeneratedAt = generatedAt,
            Revision = revision,
        };
    }

    /// <summary>True if a recount finds the counts compared here unchanged (the dead-letter depth, and when the summary was made, are not compared): no revision is due.</summary>
    public static bool Same(Summary a, Summary b) =>
        a.TotalEvents == b.TotalEvents && a.Rejected == b.Rejected && a.UniqueUsers == b.UniqueUsers && a.UniqueAnonymousIds == b.UniqueAnonymousIds && a.EventTypes == b.EventTypes
        && a.ByEventType.Count == b.ByEventType.Count && a.ByEventType.All(t => b.ByEventType.TryGetValue(t.Key, out var n) && n == t.Value);
}
