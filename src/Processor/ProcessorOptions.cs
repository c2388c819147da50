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
/// <param name="ImportWriteRate">
/// Imported events a second the Processor stores at most, over its <see cref="ImportInvocations"/> concurrent invocations
/// on the import events queue (<c>Imports__WriteRate</c>; 0, the default, leaves them unpaced). Live events are never paced.
/// </param>
public sealed record ProcessorOptions(string TableName, string BucketName, TimeSpan Retention, TimeSpan Lookback, IReadOnlyList<string> QueueUrls,
    double ImportWriteRate = 0)
{
    /// <summary>The longest retention the Processor accepts (the template's RetentionDays parameter has the same maximum).</summary>
    public const int MaxRetentionDays = 3650;

    /// <summary>
    /// How many invocations read the import events queue at once: the MaximumConcurrency of the template's Imports mapping
    /// (a test holds them equal). Each paces its imported events to its part of <see cref="ImportWriteRate"/>.
    /// </summary>
    public const int ImportInvocations = 2;

    /// <summary>
    /// The lowest non-zero <see cref="ImportWriteRate"/> (the template's ImportWriteRate parameter has the same minimum): an
    /// invocation's ten messages of up to 100 imported events each, paced at its part of it, fit in the 30 s Timeout.
    /// </summary>
    public const int MinImportWriteRate = 100;

    /// <summary>The imported events a second one invocation stores at most; 0 if unpaced.</summary>
    public double ImportWriteRatePerInvocation => ImportWriteRate / ImportInvocations;

    /// <summary>
    /// Reads and validates the settings; a missing or invalid one fails at start, naming it, except the import write rate:
    /// damaged, it leaves imports unpaced and says so through <paramref name="warn"/>, so that it never stops live events.
    /// </summary>
    public static ProcessorOptions FromEnvironment(Func<string, string?>? read = null, Action<string>? warn = null)
    {
        var settings = new Lambda.FunctionSettings(read);
        return new ProcessorOptions(
            settings.Required("Events__TableName"),
            settings.Required("Archive__BucketName"),
            TimeSpan.FromDays(settings.Number("Events__RetentionDays", 90, 1, MaxRetentionDays)),
            TimeSpan.FromMinutes(settings.Number("Summaries__LookbackMinutes", 60, 0, 10080)),
            settings.Required("Queue__Urls").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            ImportRate(settings, warn));
    }

    private static double ImportRate(Lambda.FunctionSettings settings, Action<string>? warn)
    {
        try
        {
            var rate = settings.Fraction("Imports__WriteRate", 0, 0, 40_000);
            return rate is 0 or >= MinImportWriteRate ? rate
                : throw new InvalidOperationException($"Imports__WriteRate must be 0 (unpaced) or at least {MinImportWriteRate}, not {rate}.");
        }
        catch (InvalidOperationException e)
        {
            warn?.Invoke($"{e.Message} Imported events are stored unpaced until it is mended.");
            return 0;
        }
    }
}
