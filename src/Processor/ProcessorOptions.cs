namespace Pipeline.Processor;

/// <summary>The Processor's settings, from its environment (set by serverless.template).</summary>
/// <param name="TableName">The events table (<c>Events__TableName</c>).</param>
/// <param name="BucketName">The archive bucket: stored events, late markers and rejected records (<c>Archive__BucketName</c>).</param>
/// <param name="Retention">How long events stay in the table before TTL removes them (<c>Events__RetentionDays</c>, default 90).</param>
/// <param name="Lookback">
/// The Aggregator's look-back (<c>Summaries__LookbackMinutes</c>, default 60; the template gives both functions the same
/// parameter): an archive write that may land after an event's receive time plus this leaves a late marker.
/// </param>
public sealed record ProcessorOptions(string TableName, string BucketName, TimeSpan Retention, TimeSpan Lookback)
{
    /// <summary>The longest retention the Processor accepts (the template's RetentionDays parameter has the same maximum).</summary>
    public const int MaxRetentionDays = 3650;

    /// <summary>Reads and validates the settings; a missing or invalid one fails at start, naming it.</summary>
    public static ProcessorOptions FromEnvironment(Func<string, string?>? read = null)
    {
        read ??= System.Environment.GetEnvironmentVariable;
        return new ProcessorOptions(
            Required(read, "Events__TableName"),
            Required(read, "Archive__BucketName"),
            TimeSpan.FromDays(Number(read, "Events__RetentionDays", 90, 1, MaxRetentionDays)),
            TimeSpan.FromMinutes(Number(read, "Summaries__LookbackMinutes", 60, 0, 10080)));
    }

    private static string Required(Func<string, string?> read, string name) =>
        read(name) is { Length: > 0 } value ? value : throw new InvalidOperationException($"The environment variable {name} is required.");

    private static int Number(Func<string, string?> read, string name, int fallback, int min, int max)
    {
        var text = read(name);
        if (string.IsNullOrEmpty(text))
        {
            return fallback;
        }
        return int.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new InvalidOperationException($"The environment variable {name} must be a whole number from {min} to {max}, not '{text}'.");
    }
}
