namespace Pipeline.Importer;

/// <summary>The import function's settings, from its environment (set by serverless.template).</summary>
/// <param name="BucketName">The imports bucket: files under <c>uploads/</c>, reports under <c>reports/</c> (<c>Imports__BucketName</c>).</param>
/// <param name="TableName">The imports table: one record per imported object (<c>Imports__TableName</c>).</param>
/// <param name="ImportQueueUrl">The import queue, where the function sends its own continuations (<c>Imports__QueueUrl</c>).</param>
/// <param name="EventsQueueUrl">
/// The import events queue the rows go to (<c>Queue__Url</c>): the Processor reads it beside the live events queue, so
/// live events never wait behind a file.
/// </param>
/// <param name="AlertTopicArn">The import alerts topic (<c>Imports__AlertTopicArn</c>).</param>
/// <param name="MaxAge">The oldest <c>occurredAt</c> a row may have (<c>Imports__MaxAgeDays</c>, default 1825).</param>
/// <param name="PlansTableName">The tracking plans table: the plan every row is checked against (<c>Plans__TableName</c>).</param>
/// <param name="ApiKeysTableName">The API keys table: the write key a Segment file is imported under (<c>ApiKeys__TableName</c>).</param>
public sealed record ImporterOptions(string BucketName, string TableName, string ImportQueueUrl, string EventsQueueUrl, string AlertTopicArn, TimeSpan MaxAge,
    string PlansTableName, string ApiKeysTableName)
{
    /// <summary>Where uploaded files are; only these are imported.</summary>
    public const string UploadsPrefix = Intake.ImportFiles.UploadsPrefix;

    /// <summary>Where the reports are written.</summary>
    public const string ReportsPrefix = "reports/";

    /// <summary>Reads and validates the settings; a missing or invalid one fails at start, naming it.</summary>
    public static ImporterOptions FromEnvironment(Func<string, string?>? read = null)
    {
        var settings = new Lambda.FunctionSettings(read);
        return new ImporterOptions(
            settings.Required("Imports__BucketName"),
            settings.Required("Imports__TableName"),
            settings.Required("Imports__QueueUrl"),
            settings.Required("Queue__Url"),
            settings.Required("Imports__AlertTopicArn"),
            TimeSpan.FromDays(settings.Number("Imports__MaxAgeDays", 1825, 30, 3650)),
            settings.Required("Plans__TableName"),
            settings.Required("ApiKeys__TableName"));
    }
}
