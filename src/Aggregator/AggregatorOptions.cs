using System.Globalization;

namespace Pipeline.Aggregator;

/// <summary>The Aggregator's settings, from its environment (set by serverless.template).</summary>
/// <param name="EventsTable">The events table (<c>Events__TableName</c>).</param>
/// <param name="SummariesTable">Where summaries are stored (<c>Summaries__TableName</c>).</param>
/// <param name="TopicArn">Where summaries are published (<c>Summaries__TopicArn</c>).</param>
/// <param name="Window">The window length (<c>Summaries__WindowMinutes</c>, default 60).</param>
/// <param name="BucketName">The archive, whose <c>rejected/</c> objects are counted (<c>Archive__BucketName</c>).</param>
/// <param name="DeadLetterQueueUrl">The dead-letter queue whose depth is reported (<c>Queue__DeadLetterUrl</c>).</param>
public sealed record AggregatorOptions(string EventsTable, string SummariesTable, string TopicArn, TimeSpan Window, string BucketName, string DeadLetterQueueUrl)
{
    /// <summary>How long after a window ends it is summarized, so events still in the queue can land (<c>Summaries__SettleSeconds</c>, default 30).</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Most windows summarized in one run; a longer backlog is caught up over the next runs.</summary>
    public int MaxWindowsPerRun { get; init; } = 48;

    /// <summary>Reads and validates the settings; a missing or invalid one fails at start, naming it.</summary>
    public static AggregatorOptions FromEnvironment(Func<string, string?>? read = null)
    {
        read ??= System.Environment.GetEnvironmentVariable;
        var minutes = read("Summaries__WindowMinutes") is { Length: > 0 } text
            ? int.TryParse(text, CultureInfo.InvariantCulture, out var m) && m is >= 1 and <= 1440 ? m
                : throw new InvalidOperationException($"The environment variable Summaries__WindowMinutes must be a whole number from 1 to 1440, not '{text}'.")
            : 60;
        var settle = read("Summaries__SettleSeconds") is { Length: > 0 } seconds
            ? int.TryParse(seconds, CultureInfo.InvariantCulture, out var s) && s is >= 0 and <= 3600 ? s
                : throw new InvalidOperationException($"The environment variable Summaries__SettleSeconds must be a whole number from 0 to 3600, not '{seconds}'.")
            : 30;
        return new AggregatorOptions(
            Required(read, "Events__TableName"),
            Required(read, "Summaries__TableName"),
            Required(read, "Summaries__TopicArn"),
            TimeSpan.FromMinutes(minutes),
            Required(read, "Archive__BucketName"),
            Required(read, "Queue__DeadLetterUrl"))
        { Settle = TimeSpan.FromSeconds(settle) };
    }

    private static string Required(Func<string, string?> read, string name) =>
        read(name) is { Length: > 0 } value ? value : throw new InvalidOperationException($"The environment variable {name} is required.");
}
