using System.Globalization;
using System.Text.Json;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Pipeline.Storage;

namespace Pipeline.Summaries;

/// <summary>A window's stored summary, whether it was published, and the fingerprint of the archive it was counted from.</summary>
public sealed record StoredSummary(Summary Summary, bool Published, string? Fingerprint);

/// <summary>
/// The summaries table: one item per window (partition <c>series</c> = "summaries", sort key <c>windowStart</c>), holding
/// the window's latest revision, with <c>status</c> "stored" until that revision is published, then "published". Storing
/// before publishing makes publication at-least-once: a run that stops in between leaves a stored summary the next run
/// publishes. Every write is conditional, so overlapping runs never store a window, or a revision, twice. One more item
/// (<c>series</c> = "runs") keeps when the last complete run started, which decides the windows a run counts again.
/// </summary>
public sealed class SummaryStore(IAmazonDynamoDB dynamoDb, string tableName, TimeProvider clock)
{
    private const string Series = "summaries";
    private const string Runs = "runs";
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
        [.. (await LatestAsync(count, cancellationToken).ConfigureAwait(false)).Select(i => Parse(i).Summary)];

    /// <summary>Stored but not yet published summaries among the recent ones, oldest first.</summary>
    public async Task<IReadOnlyList<Summary>> UnpublishedAsync(CancellationToken cancellationToken) =>
        [.. (await LatestAsync(100, cancellationToken).ConfigureAwait(false)).Select(Parse).Where(s => !s.Published).Select(s => s.Summary).Reverse()];

    /// <summary>The stored summary of the window that starts at <paramref name="windowStart"/>, or null.</summary>
    public async Task<StoredSummary?> GetAsync(DateTimeOffset windowStart, CancellationToken cancellationToken)
    {
        var response = await dynamoDb.GetItemAsync(new GetItemRequest
        {
            TableName = tableName,
            Key = Key(windowStart),
            ConsistentRead = true,
        }, cancellationToken).ConfigureAwait(false);
        return response.Item is { Count: > 0 } item ? Parse(item) : null;
    }

    /// <summary>Stores a summary unless its window is already stored; false if it was.</summary>
    public async Task<bool> StoreAsync(Summary summary, string fingerprint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(summary);
        try
        {
            await dynamoDb.PutItemAsync(new PutItemRequest
            {
                TableName = tableName,
                Item = new Dictionary<string, AttributeValue>(Key(summary.WindowStart))
                {
                    ["windowEnd"] = new() { S = EventLayout.FormatTime(summary.WindowEnd) },
                    ["totalEvents"] = new() { N = summary.TotalEvents.ToString(CultureInfo.InvariantCulture) },
                    ["summary"] = new() { S = JsonSerializer.Serialize(summary, SummaryJsonContext.Default.Summary) },
                    ["status"] = new() { S = Stored },
                    ["revision"] = new() { N = summary.Revision.ToString(CultureInfo.InvariantCulture) },
                    ["fingerprint"] = new() { S = fingerprint },
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

    /// <summary>
    /// Replaces a window's summary by its next revision, unless another run revised it since <paramref name="previous"/>;
    /// false if one did.
    /// </summary>
    public Task<bool> ReviseAsync(Summary summary, int previous, string fingerprint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(summary);
        return UpdateAsync(summary.WindowStart, previous,
            "SET summary = :summary, totalEvents = :total, revision = :revision, fingerprint = :fingerprint, #status = :stored REMOVE publishedAt, messageId",
            new()
            {
                [":summary"] = new() { S = JsonSerializer.Serialize(summary, SummaryJsonContext.Default.Summary) },
                [":total"] = new() { N = summary.TotalEvents.ToString(CultureInfo.InvariantCulture) },
                [":revision"] = new() { N = summary.Revision.ToString(CultureInfo.InvariantCulture) },
                [":fingerprint"] = new() { S = fingerprint },
                [":stored"] = new() { S = Stored },
            }, cancellationToken);
    }

    /// <summary>
    /// Records that the window's revision <paramref name="revision"/> still holds for the archive <paramref name="fingerprint"/>
    /// (nothing new arrived that changes it).
    /// </summary>
    public Task<bool> ConfirmAsync(DateTimeOffset windowStart, int revision, string fingerprint, CancellationToken cancellationToken) =>
        UpdateAsync(windowStart, revision, "SET fingerprint = :fingerprint", new() { [":fingerprint"] = new() { S = fingerprint } }, cancellationToken);

    private async Task<bool> UpdateAsync(DateTimeOffset windowStart, int previous, string update, Dictionary<string, AttributeValue> values, CancellationToken cancellationToken)
    {
        values[":previous"] = new() { N = previous.ToString(CultureInfo.InvariantCulture) };
        try
        {
            await dynamoDb.UpdateItemAsync(new UpdateItemRequest
            {
                TableName = tableName,
                Key = Key(windowStart),
                UpdateExpression = update,
                // Summaries stored before revisions existed have no revision attribute: they are revision 0.
                ConditionExpression = previous == 0 ? "attribute_not_exists(revision) OR revision = :previous" : "revision = :previous",
                ExpressionAttributeNames = update.Contains("#status", StringComparison.Ordinal) ? new Dictionary<string, string> { ["#status"] = "status" } : null,
                ExpressionAttributeValues = values,
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ConditionalCheckFailedException)
        {
            return false;
        }
    }

    /// <summary>The stored summaries of windows that end after <paramref name="time"/>, oldest first.</summary>
    public async Task<IReadOnlyList<StoredSummary>> EndingAfterAsync(DateTimeOffset time, CancellationToken cancellationToken)
    {
        var summaries = new List<StoredSummary>();
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
            summaries.AddRange(page.Items.Select(Parse).Where(s => s.Summary.WindowEnd > time));
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
                Key = Key(summary.WindowStart),
                UpdateExpression = "SET #status = :published, publishedAt = :now, messageId = :id",
                ConditionExpression = summary.Revision == 0
                    ? "#status = :stored AND (attribute_not_exists(revision) OR revision = :revision)"
                    : "#status = :stored AND revision = :revision",
                ExpressionAttributeNames = new Dictionary<string, string> { ["#status"] = "status" },
                ExpressionAttributeValues = new Dictionary<string, AttributeValue>
                {
                    [":published"] = new() { S = Published },
                    [":stored"] = new() { S = Stored },
                    [":now"] = new() { S = EventLayout.FormatTime(clock.GetUtcNow()) },
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

    /// <summary>When the last run that counted everything it had to started, or null before the first.</summary>
    public async Task<DateTimeOffset?> LastRunStartAsync(CancellationToken cancellationToken)
    {
        var response = await dynamoDb.GetItemAsync(new GetItemRequest { TableName = tableName, Key = RunKey, ConsistentRead = true }, cancellationToken).ConfigureAwait(false);
        return response.Item is { Count: > 0 } item && item.TryGetValue("startedAt", out var at)
            ? DateTimeOffset.Parse(at.S, CultureInfo.InvariantCulture)
            : null;
    }

    /// <summary>Records a run's start, unless a later run's is already recorded.</summary>
    public async Task RecordRunAsync(DateTimeOffset startedAt, CancellationToken cancellationToken)
    {
        try
        {
            await dynamoDb.PutItemAsync(new PutItemRequest
            {
                TableName = tableName,
                Item = new Dictionary<string, AttributeValue>(RunKey) { ["startedAt"] = new() { S = EventLayout.FormatTime(startedAt) } },
                ConditionExpression = "attribute_not_exists(startedAt) OR startedAt < :at",
                ExpressionAttributeValues = new Dictionary<string, AttributeValue> { [":at"] = new() { S = EventLayout.FormatTime(startedAt) } },
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (ConditionalCheckFailedException)
        {
            // An overlapping run that started later finished first.
        }
    }

    /// <summary>Records what the run that started at <paramref name="startedAt"/> could not do (at most 20 steps), for <c>status</c>.</summary>
    public async Task RecordFailuresAsync(DateTimeOffset startedAt, IReadOnlyList<string> failures, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(failures);
        var item = new Dictionary<string, AttributeValue>(FailuresKey) { ["startedAt"] = new() { S = EventLayout.FormatTime(startedAt) } };
        if (failures.Count > 0)
        {
            item["failures"] = new() { L = [.. failures.Take(20).Select(f => new AttributeValue { S = f.Length > 500 ? f[..500] : f })] };
        }
        try
        {
            await dynamoDb.PutItemAsync(new PutItemRequest
            {
                TableName = tableName,
                Item = item,
                ConditionExpression = "attribute_not_exists(startedAt) OR startedAt <= :at",
                ExpressionAttributeValues = new Dictionary<string, AttributeValue> { [":at"] = new() { S = EventLayout.FormatTime(startedAt) } },
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (ConditionalCheckFailedException)
        {
            // An overlapping run that started later finished first.
        }
    }

    /// <summary>The last finished run's start and the steps it could not do; null if no run finished.</summary>
    public async Task<(DateTimeOffset StartedAt, IReadOnlyList<string> Failures)?> LastRunAsync(CancellationToken cancellationToken)
    {
        var request = new GetItemRequest { TableName = tableName, Key = FailuresKey, ConsistentRead = true };
        var item = (await dynamoDb.GetItemAsync(request, cancellationToken).ConfigureAwait(false)).Item;
        return item is { Count: > 0 } && item.TryGetValue("startedAt", out var at)
            ? (DateTimeOffset.Parse(at.S, CultureInfo.InvariantCulture), item.TryGetValue("failures", out var f) ? [.. (f.L ?? []).Select(v => v.S)] : [])
            : null;
    }

    private static Dictionary<string, AttributeValue> FailuresKey => new()
    {
        ["series"] = new() { S = Runs },
        ["windowStart"] = new() { S = "failures" },
    };

    private static Dictionary<string, AttributeValue> RunKey => new()
    {
        ["series"] = new() { S = Runs },
        ["windowStart"] = new() { S = "latest" },
    };

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

    private static Dictionary<string, AttributeValue> Key(DateTimeOffset windowStart) => new()
    {
        ["series"] = new() { S = Series },
        ["windowStart"] = new() { S = EventLayout.FormatTime(windowStart) },
    };

    private static StoredSummary Parse(Dictionary<string, AttributeValue> item) => new(
        JsonSerializer.Deserialize(item["summary"].S, SummaryJsonContext.Default.Summary)
            ?? throw new InvalidDataException($"The summary of {item["windowStart"].S} is empty."),
        item.TryGetValue("status", out var status) && status.S == Published,
        item.TryGetValue("fingerprint", out var fingerprint) ? fingerprint.S : null);
}
