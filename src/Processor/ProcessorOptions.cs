namespace Pipeline.Processor;

/// <summary>The Processor's settings, from its environment (set by serverless.template).</summary>
/// <param name="TableName">The events table (<c>Events__TableName</c>).</param>
/// <param name="BucketName">The archive bucket: stored events, late markers and rejected records (<c>Archive__BucketName</c>).</param>
/// <param name="Retention">How long events stay in the table before TTL removes them (<c>Events__RetentionDays</c>, default 90).</param>
/// <param name="Lookback">
/// The Aggregator's look-back (<c>Summaries__LookbackMinutes</c>, default 60; the template gives both functions the same
/// parameter): an archive write that may land after an event's receive time plus this leaves a late marker.
/// </param>
/// <param name="QueueUrls">
/// The queues the Processor reads (<c>Queue__Urls</c>, comma-separated), where it sends back what a throttled table left unwritten.
/// </param>
public sealed record ProcessorOptions(string TableName, string BucketName, TimeSpan Retention, TimeSpan Lookback, IReadOnlyList<string> QueueUrls)
{
    /// <summary>The longest retention the Processor accepts (the template's RetentionDays parameter has the same maximum).</summary>
    public const int MaxRetentionDays = 3650;

    /// <summary>Reads and validates the settings; a missing or invalid one fails at start, naming it.</summary>
    public static ProcessorOptions FromEnvironment(Func<string, string?>? read = null)
    {
        var settings = new Lambda.FunctionSettings(read);
        return new ProcessorOptions(
            settings.Required("Events__TableName"),
            settings.Required("Archive__BucketName"),
            TimeSpan.FromDays(settings.Number("Events__RetentionDays", 90, 1, MaxRetentionDays)),
            TimeSpan.FromMinutes(settings.Number("Summaries__LookbackMinutes", 60, 0, 10080)),
            settings.Required("Queue__Urls").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }
}
