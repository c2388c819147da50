using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Summaries;

/// <summary>The summary of one window, as stored and published.</summary>
public sealed record Summary
{
    /// <summary>Start of the window (inclusive), UTC.</summary>
    public required DateTimeOffset WindowStart { get; init; }

    /// <summary>End of the window (exclusive), UTC.</summary>
    public required DateTimeOffset WindowEnd { get; init; }

    /// <summary>Distinct events received in the window (duplicates are never stored, so never counted).</summary>
    public required long TotalEvents { get; init; }

    /// <summary>Events per event type, for the most frequent types (at most <c>Summaries__TopEventTypes</c>).</summary>
    public required IReadOnlyDictionary<string, long> ByEventType { get; init; }

    /// <summary>Distinct event types in the window, listed or not.</summary>
    public long EventTypes { get; init; }

    /// <summary>Events of the types not listed in <see cref="ByEventType"/>.</summary>
    public long OtherEvents { get; init; }

    /// <summary>0 for the first summary of the window; one more for each revision published because events arrived late.</summary>
    public int Revision { get; init; }

    /// <summary>Distinct <c>userId</c>s.</summary>
    public required long UniqueUsers { get; init; }

    /// <summary>Distinct <c>anonymousId</c>s.</summary>
    public required long UniqueAnonymousIds { get; init; }

    /// <summary>
    /// Events the tracking plan flagged (accepted, breaking it), per event type; types with none are left out, and the
    /// map is empty without a plan (docs/tracking-plan.md).
    /// </summary>
    public IReadOnlyDictionary<string, long> PlanViolations { get; init; } = new Dictionary<string, long>();

    /// <summary>Records the Processor rejected during the window (objects under <c>rejected/</c>).</summary>
    public required long Rejected { get; init; }

    /// <summary>Messages waiting in the dead-letter queue when the summary was made.</summary>
    public required long DeadLetterDepth { get; init; }

    /// <summary>When the summary was made.</summary>
    public required DateTimeOffset GeneratedAt { get; init; }
}

/// <summary>What one Aggregator run did (the function's result).</summary>
/// <param name="Published">Windows published in this run, including ones a previous run stored but did not publish.</param>
/// <param name="EventsRead">Archived lines the run read to count its windows (a window whose archive had not changed is not read again).</param>
/// <param name="LateHours">Hours the Processor marked late that the run counted again.</param>
/// <param name="CompactedHours">Hours the run compacted into Parquet.</param>
/// <param name="Failures">The steps the run could not do (a window not counted, an hour not compacted), each with its reason; the next run tries them again.</param>
public sealed record AggregatorRun(IReadOnlyList<DateTimeOffset> Published, long EventsRead, int LateHours, int CompactedHours, IReadOnlyList<string> Failures);

/// <summary>Source-generated JSON for summaries (camelCase).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Summary))]
[JsonSerializable(typeof(AggregatorRun))]
public sealed partial class SummaryJsonContext : JsonSerializerContext;
