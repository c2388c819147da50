using System.Globalization;
using System.Text.Json;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Pipeline.Storage;

namespace Pipeline.Aggregator;

/// <summary>
/// The summaries table: one item per window (partition <c>series</c> = "summaries", sort key <c>windowStart</c>), holding
/// the window's latest revision, with <c>status</c> "stored" until that revision is published, then "published". Storing
/// before publishing makes publication at-least-once: a run that stops in between leaves a stored summary the next run
/// publishes. Every write is conditional, so overlapping runs never store a window, or a revision, twice.
/// </summary>
public sealed class SummaryStore(IAmazonDynamoDB dynamoDb, string tableName)
{
    private const string Series = "summaries";
    private const string Stored = "stored";
    private const string Published = "published";

    /// <summary>The end of the latest stored window, or null if there is none yet.</summary>
    public async Task<DateTimeOffset?> LatestWindowEndAsync(CancellationToken cancellationToken)
    {
        var latest = await LatestAsync(1, cancellationToken).ConfigureAwait(false);
        return latest.Count == 0 ? null : DateTimeOffset.Parse(latest[0]["windowEnd"].S, CultureInfo.InvariantCulture);
    }

    /// <summary>The newest summaries, newest first (what a reader of "the latest summaries" wants).</summary>
    public async Task<IReadOnlyList<Summary>> RecentAsync(int count, CancellationToken cancellationToken) =>
        [.. (await LatestAsync(count, cancellationToken).ConfigureAwait(false)).Select(Parse)];

    /// <summary>Stored but not yet published summaries among the recent ones, oldest first.</summary>
    public async Task<IReadOnlyList<Summary>> UnpublishedAsync(CancellationToken cancellationToken) =>
        [.. (await LatestAsync(100, cancellationToken).ConfigureAwait(false)).Where(i => i["status"].S == Stored).Select(Parse).Reverse()];

    /// <summary>Stores a summary unless its window is already stored; false if it was.</summary>
    public async Task<bool> StoreAsync(Summary summary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(summary);
        try
        {
            await dynamoDb.PutItemAsync(new PutItemRequest
            {
                TableName = tableName,
                Item = new Dictionary<string, AttributeValue>
                {
                    ["series"] = new() { S = Series },
                    ["windowStart"] = new() { S = EventLayout.FormatTime(summary.WindowStart) },
                    ["windowEnd"] = new() { S = EventLayout.FormatTime(summary.WindowEnd) },
                    ["totalEvents"] = new() { N = summary.TotalEvents.ToString(CultureInfo.InvariantCulture) },
                    ["summary"] = new() { S = JsonSerializer.Serialize(summary, SummaryJsonContext.Default.Summary) },
                    ["status"] = new() { S = Stored },
                    ["revision"] = new() { N = summary.Revision.ToString(CultureInfo.InvariantCulture) },
                },
                ConditionExpression = "attribute_not_exists(windowStart)",
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ConditionalCheckFailedException)
        {
            return false;
        }
    }

    /// <summary>Replaces a window's summary by its next revision, unless another run revised it since <paramref name="previous"/>; false if one did.</summary>
    public async Task<bool> ReviseAsync(Summary summary, int previous, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(summary);
        try
        {
            await dynamoDb.UpdateItemAsync(new UpdateItemRequest
            {
                TableName = tableName,
                Key = Key(summary),
                UpdateExpression = "SET summary = :summary, totalEvents = :total, revision = :revision, #status = :stored REMOVE publishedAt, messageId",
                // Summaries stored before revisions existed have no revision attribute: they are revision 0.
                ConditionExpression = previous == 0 ? "attribute_not_exists(revision) OR revision = :previous" : "revision = :previous",
                ExpressionAttributeNames = new Dictionary<string, string> { ["#status"] = "status" },
                ExpressionAttributeValues = new Dictionary<string, AttributeValue>
                {
                    [":summary"] = new() { S = JsonSerializer.Serialize(summary, SummaryJsonContext.Default.Summary) },
                    [":total"] = new() { N = summary.TotalEvents.ToString(CultureInfo.InvariantCulture) },
                    [":revision"] = new() { N = summary.Revision.ToString(CultureInfo.InvariantCulture) },
                    [":previous"] = new() { N = previous.ToString(CultureInfo.InvariantCulture) },
                    [":stored"] = new() { S = Stored },
                },
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ConditionalCheckFailedException)
        {
            return false;
        }
    }

    /// <summary>The stored summaries of windows that end after <paramref name="time"/>, oldest first.</summary>
    public async Task<IReadOnlyList<Summary>> EndingAfterAsync(DateTimeOffset time, CancellationToken cancellationToken)
    {
        var summaries = new List<Summary>();
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var page = await dynamoDb.QueryAsync(new QueryRequest
            {
                TableName = tableName,
                // Windows are at most a day long, so every window ending after the time starts after the time less a day.
                KeyConditionExpression = "series = :series AND windowStart > :from",
                ExpressionAttributeValues = new Dictionary<string, AttributeValue>
                {
                    [":series"] = new() { S = Series },
                    [":from"] = new() { S = EventLayout.FormatTime(time.AddDays(-1)) },
                },
                ConsistentRead = true,
                ExclusiveStartKey = start,
            }, cancellationToken).ConfigureAwait(false);
            summaries.AddRange(page.Items.Select(Parse).Where(s => s.WindowEnd > time));
            start = page.LastEvaluatedKey is { Count: > 0 } next ? next : null;
        }
        while (start is not null);
        return summaries;
    }

    /// <summary>Marks a summary's revision published (once: a second mark, or a mark of a revision since replaced, changes nothing).</summary>
    public async Task MarkPublishedAsync(Summary summary, string messageId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(summary);
        try
        {
            await dynamoDb.UpdateItemAsync(new UpdateItemRequest
            {
                TableName = tableName,
                Key = Key(summary),
                UpdateExpression = "SET #status = :published, publishedAt = :now, messageId = :id",
                ConditionExpression = summary.Revision == 0
                    ? "#status = :stored AND (attribute_not_exists(revision) OR revision = :revision)"
                    : "#status = :stored AND revision = :revision",
                ExpressionAttributeNames = new Dictionary<string, string> { ["#status"] = "status" },
                ExpressionAttributeValues = new Dictionary<string, AttributeValue>
                {
                    [":published"] = new() { S = Published },
                    [":stored"] = new() { S = Stored },
                    [":now"] = new() { S = EventLayout.FormatTime(DateTimeOffset.UtcNow) },
                    [":id"] = new() { S = messageId },
                    [":revision"] = new() { N = summary.Revision.ToString(CultureInfo.InvariantCulture) },
                },
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (ConditionalCheckFailedException)
        {
            // Already marked by an overlapping run.
        }
    }

    private async Task<List<Dictionary<string, AttributeValue>>> LatestAsync(int count, CancellationToken cancellationToken) =>
        (await dynamoDb.QueryAsync(new QueryRequest
        {
            TableName = tableName,
            KeyConditionExpression = "series = :series",
            ExpressionAttributeValues = new Dictionary<string, AttributeValue> { [":series"] = new() { S = Series } },
            ScanIndexForward = false,
            Limit = count,
            ConsistentRead = true,
        }, cancellationToken).ConfigureAwait(false)).Items;

    private static Dictionary<string, AttributeValue> Key(Summary summary) => new()
    {
        ["series"] = new() { S = Series },
        ["windowStart"] = new() { S = EventLayout.FormatTime(summary.WindowStart) },
    };

    private static Summary Parse(Dictionary<string, AttributeValue> item) =>
        JsonSerializer.Deserialize(item["summary"].S, SummaryJsonContext.Default.Summary)
            ?? throw new InvalidDataException($"The summary of {item["windowStart"].S} is empty.");
}
