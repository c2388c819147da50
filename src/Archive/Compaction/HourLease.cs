using System.Globalization;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Pipeline.Storage;

namespace Pipeline.Archive;

/// <summary>A lease held on an hour: who holds it, and its fencing token (one more at each take of the hour).</summary>
/// <param name="Hour">The hour.</param>
/// <param name="Holder">This holder's id.</param>
/// <param name="Fence">The fencing token: every write the holder makes under the lease is conditional on it.</param>
public sealed record LeaseHold(DateTimeOffset Hour, string Holder, long Fence);

/// <summary>
/// A lease on compacting one hour: an item of the summaries table (<c>series</c> = "compaction", <c>windowStart</c> =
/// the hour), taken only if there is none or it has expired, renewed by its holder while it works, and checked with a
/// conditional write carrying its fencing token before the holder deletes anything (D17). So two Aggregator runs, or a
/// run and the <c>compact</c> command, do not compact an hour at once, and a holder that stalled past its lease (a
/// stopped process, a laptop asleep) deletes nothing. DynamoDB's conditions hold in the local emulator too.
/// </summary>
public sealed class HourLease(IAmazonDynamoDB dynamoDb, string tableName, TimeProvider clock)
{
    /// <summary>How long a lease lasts unless renewed: a stopped holder's hour is free again after it.</summary>
    public static readonly TimeSpan Duration = TimeSpan.FromMinutes(5);

    /// <summary>How often a holder renews its lease while it works.</summary>
    public static readonly TimeSpan RenewEvery = TimeSpan.FromMinutes(1);

    private const string Series = "compaction";

    /// <summary>Takes the hour's lease; null if another holder has it.</summary>
    public async Task<LeaseHold?> TryAcquireAsync(DateTimeOffset hour, CancellationToken cancellationToken)
    {
        hour = EventLayout.Hour(hour);
        var holder = Guid.NewGuid().ToString("N");
        var now = clock.GetUtcNow();
        try
        {
            var taken = await dynamoDb.UpdateItemAsync(new UpdateItemRequest
            {
                TableName = tableName,
                Key = Key(hour),
                UpdateExpression = "SET holder = :holder, expiresAt = :expires ADD fence :one",
                ConditionExpression = "attribute_not_exists(series) OR expiresAt < :now",
                ExpressionAttributeValues = new()
                {
                    [":holder"] = new() { S = holder },
                    [":expires"] = Seconds(now + Duration),
                    [":now"] = Seconds(now),
                    [":one"] = new() { N = "1" },
                },
                ReturnValues = ReturnValue.UPDATED_NEW,
            }, cancellationToken).ConfigureAwait(false);
            return new LeaseHold(hour, holder, long.Parse(taken.Attributes["fence"].N, CultureInfo.InvariantCulture));
        }
        catch (ConditionalCheckFailedException)
        {
            return null;
        }
    }

    /// <summary>
    /// Extends the lease by <see cref="Duration"/> if <paramref name="hold"/> still holds it, unexpired; false if it was
    /// lost. A holder calls it before each step that changes the archive: a conditional write carrying its fencing token.
    /// </summary>
    public async Task<bool> RenewAsync(LeaseHold hold, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(hold);
        var now = clock.GetUtcNow();
        return await UpdateHeldAsync(hold, "SET expiresAt = :expires", " AND expiresAt >= :now", new()
        {
            [":expires"] = Seconds(now + Duration),
            [":now"] = Seconds(now),
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Gives the lease back, if <paramref name="hold"/> still has it: it expires now, and the fence counter stays.</summary>
    public async Task ReleaseAsync(LeaseHold hold, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(hold);
        // False if it expired and another holder took it: theirs to release.
        await UpdateHeldAsync(hold, "SET expiresAt = :expired", "", new() { [":expired"] = new() { N = "0" } }, cancellationToken).ConfigureAwait(false);
    }

    // Updates the lease's item if hold still has it (its holder and fencing token, and any further condition); false if not.
    private async Task<bool> UpdateHeldAsync(
        LeaseHold hold, string update, string furtherCondition, Dictionary<string, AttributeValue> values, CancellationToken cancellationToken)
    {
        values[":holder"] = new() { S = hold.Holder };
        values[":fence"] = new() { N = hold.Fence.ToString(CultureInfo.InvariantCulture) };
        try
        {
            await dynamoDb.UpdateItemAsync(new UpdateItemRequest
            {
                TableName = tableName,
                Key = Key(hold.Hour),
                UpdateExpression = update,
                ConditionExpression = "holder = :holder AND fence = :fence" + furtherCondition,
                ExpressionAttributeValues = values,
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ConditionalCheckFailedException)
        {
            return false;
        }
    }

    /// <summary>
    /// Records that the hour holds a duplicate Parquet file (a compaction that lost its lease after its upload), so the
    /// next compaction visits it even if no raw object is left there: one item, <c>windowStart</c> = "pending".
    /// </summary>
    public Task MarkPendingAsync(DateTimeOffset hour, CancellationToken cancellationToken) => Pending("ADD", hour, cancellationToken);

    /// <summary>Clears the hour's record once a compaction of it completed.</summary>
    public Task ClearPendingAsync(DateTimeOffset hour, CancellationToken cancellationToken) => Pending("DELETE", hour, cancellationToken);

    /// <summary>The hours recorded by <see cref="MarkPendingAsync"/>, oldest first.</summary>
    public async Task<List<DateTimeOffset>> PendingAsync(CancellationToken cancellationToken)
    {
        var request = new GetItemRequest { TableName = tableName, Key = PendingKey, ConsistentRead = true };
        var item = (await dynamoDb.GetItemAsync(request, cancellationToken).ConfigureAwait(false)).Item;
        return item is { Count: > 0 } && item.TryGetValue("hours", out var hours)
            ? [.. (hours.SS ?? []).Select(h => DateTimeOffset.Parse(h, CultureInfo.InvariantCulture)).Order()]
            : [];
    }

    private async Task Pending(string action, DateTimeOffset hour, CancellationToken cancellationToken) =>
        await dynamoDb.UpdateItemAsync(new UpdateItemRequest
        {
            TableName = tableName,
            Key = PendingKey,
            UpdateExpression = $"{action} hours :hour",
            ExpressionAttributeValues = new() { [":hour"] = new() { SS = [EventLayout.FormatTime(EventLayout.Hour(hour))] } },
        }, cancellationToken).ConfigureAwait(false);

    private static Dictionary<string, AttributeValue> PendingKey => new()
    {
        ["series"] = new() { S = Series },
        ["windowStart"] = new() { S = "pending" },
    };

    private static AttributeValue Seconds(DateTimeOffset time) => new() { N = time.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) };

    private static Dictionary<string, AttributeValue> Key(DateTimeOffset hour) => new()
    {
        ["series"] = new() { S = Series },
        ["windowStart"] = new() { S = EventLayout.FormatTime(EventLayout.Hour(hour)) },
    };
}
