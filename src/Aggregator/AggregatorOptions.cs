using Pipeline.Summaries;

namespace Pipeline.Aggregator;

/// <summary>The Aggregator's settings, from its environment (set by serverless.template).</summary>
/// <param name="SummariesTable">Where summaries are stored (<c>Summaries__TableName</c>).</param>
/// <param name="TopicArn">Where summaries are published (<c>Summaries__TopicArn</c>).</param>
/// <param name="Window">The window length (<c>Summaries__WindowMinutes</c>, default 60).</param>
/// <param name="BucketName">The archive, which the Aggregator counts (<c>Archive__BucketName</c>).</param>
/// <param name="DeadLetterQueueUrl">The dead-letter queue whose depth is reported (<c>Queue__DeadLetterUrl</c>).</param>
public sealed record AggregatorOptions(string SummariesTable, string TopicArn, TimeSpan Window, string BucketName, string DeadLetterQueueUrl)
{
    /// <summary>How long after a window ends it is summarized, so events still in the queue can land (<c>Summaries__SettleSeconds</c>, default 30).</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long after a window ends it is counted again, and a revised summary published if an event arrived late
    /// (<c>Summaries__LookbackMinutes</c>, default 60: past the 15 minutes a retried message can take before the DLQ). Every
    /// run counts again the windows the previous complete run found within it; a later archive write leaves a marker.
    /// </summary>
    public TimeSpan Lookback { get; init; } = TimeSpan.FromMinutes(60);

    /// <summary>Event types listed by name in a summary, the most frequent first; the rest are totalled (<c>Summaries__TopEventTypes</c>, default 100).</summary>
    public int TopEventTypes { get; init; } = 100;

    /// <summary>Most windows summarized in one run; a longer backlog is caught up over the next runs.</summary>
    public int MaxWindowsPerRun { get; init; } = 48;

    /// <summary>Reads and validates the settings; a missing or invalid one fails at start, naming it.</summary>
    public static AggregatorOptions FromEnvironment(Func<string, string?>? read = null)
    {
        var settings = new Lambda.FunctionSettings(read);
        return new AggregatorOptions(
            settings.Required("Summaries__TableName"),
            settings.Required("Summaries__TopicArn"),
            TimeSpan.FromMinutes(settings.Number("Summaries__WindowMinutes", 60, 1, 1440)),
            settings.Required("Archive__BucketName"),
            settings.Required("Queue__DeadLetterUrl"))
        {
            Settle = TimeSpan.FromSeconds(settings.Number("Summaries__SettleSeconds", 30, 0, 3600)),
            Lookback = TimeSpan.FromMinutes(settings.Number("Summaries__LookbackMinutes", 60, 0, 10080)),
            TopEventTypes = settings.Number("Summaries__TopEventTypes", 100, 1, 1000),
        };
    }
}
