using System.Globalization;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Pipeline.Storage;

namespace Pipeline.Aggregator;

/// <summary>
/// A lease on compacting one hour: an item of the summaries table (<c>series</c> = "compaction", <c>windowStart</c> =
/// the hour), written only if there is none or it has expired. So two Aggregator runs, or a run and the <c>compact</c>
/// command, never compact an hour at once (S3 has conditional PUTs, but the local emulator ignores them; DynamoDB's
/// conditions hold in both).
/// </summary>
public sealed class HourLease(IAmazonDynamoDB dynamoDb, string tableName, TimeProvider clock)
{
    /// <summary>How long a lease lasts: longer than the Aggregator's 15-minute limit, so only a stopped holder's lease expires.</summary>
    public static readonly TimeSpan Duration = TimeSpan.FromMinutes(20);

    private const string Series = "compaction";

    /// <summary>Takes the hour's lease; null if another holder has it.</summary>
    public async Task<string?> TryAcquireAsync(DateTimeOffset hour, CancellationToken cancellationToken)
    {
        var holder = Guid.NewGuid().ToString("N");
        var now = clock.GetUtcNow();
        try
        {
            await dynamoDb.PutItemAsync(new PutItemRequest
            {
                TableName = tableName,
                Item = new Dictionary<string, AttributeValue>(Key(hour))
                {
                    ["holder"] = new() { S = holder },
                    ["expiresAt"] = new() { N = (now + Duration).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) },
                },
                ConditionExpression = "attribute_not_exists(series) OR expiresAt < :now",
                ExpressionAttributeValues = new() { [":now"] = new() { N = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) } },
            }, cancellationToken).ConfigureAwait(false);
            return holder;
        }
        catch (ConditionalCheckFailedException)
        {
            return null;
        }
    }

    /// <summary>Gives the lease back, if <paramref name="holder"/> still has it.</summary>
    public async Task ReleaseAsync(DateTimeOffset hour, string holder, CancellationToken cancellationToken)
    {
        try
        {
            await dynamoDb.DeleteItemAsync(new DeleteItemRequest
            {
                TableName = tableName,
                Key = Key(hour),
                ConditionExpression = "holder = :holder",
                ExpressionAttributeValues = new() { [":holder"] = new() { S = holder } },
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (ConditionalCheckFailedException)
        {
            // It expired and another holder took it: theirs to release.
        }
    }

    private static Dictionary<string, AttributeValue> Key(DateTimeOffset hour) => new()
    {
        ["series"] = new() { S = Series },
        ["windowStart"] = new() { S = EventLayout.FormatTime(EventLayout.Hour(hour)) },
    };
}
