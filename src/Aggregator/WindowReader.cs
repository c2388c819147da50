using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.SQS;
using Pipeline.Storage;

namespace Pipeline.Aggregator;

/// <summary>The counts of a window, and what reading them cost.</summary>
public sealed record WindowCounts(long Total, IReadOnlyDictionary<string, long> ByEventType, long UniqueUsers, long UniqueAnonymousIds, double ReadCapacityUnits);

/// <summary>
/// Reads a window with Query on the time-bucket index (one query per hour and shard, never a Scan), so the cost
/// grows with the window's events, not with the table; counts rejected records and the dead-letter queue's depth.
/// </summary>
public sealed class WindowReader(IAmazonDynamoDB dynamoDb, IAmazonS3 s3, IAmazonSQS sqs, AggregatorOptions options)
{
    private const int QueryConcurrency = 8;

    /// <summary>Counts the events received in the window.</summary>
    public async Task<WindowCounts> CountEventsAsync(SummaryWindow window, CancellationToken cancellationToken)
    {
        var byType = new Dictionary<string, long>(StringComparer.Ordinal);
        var users = new HashSet<string>(StringComparer.Ordinal);
        var anonymous = new HashSet<string>(StringComparer.Ordinal);
        long total = 0;
        double capacity = 0;
        var gate = new object();
        var buckets = EventLayout.BucketsFor(window.Start, window.End).ToList();
        await Parallel.ForEachAsync(buckets, new ParallelOptions { MaxDegreeOfParallelism = QueryConcurrency, CancellationToken = cancellationToken }, async (bucket, ct) =>
        {
            Dictionary<string, AttributeValue>? start = null;
            do
            {
                var page = await dynamoDb.QueryAsync(new QueryRequest
                {
                    TableName = options.EventsTable,
                    IndexName = EventLayout.TimeBucketIndex,
                    KeyConditionExpression = "timeBucket = :bucket AND receivedAt BETWEEN :start AND :end",
                    ExpressionAttributeValues = new Dictionary<string, AttributeValue>
                    {
                        [":bucket"] = new() { S = bucket },
                        [":start"] = new() { S = EventLayout.FormatTime(window.Start) },
                        [":end"] = new() { S = EventLayout.FormatTime(window.End.AddTicks(-1)) },
                    },
                    ProjectionExpression = "eventType, userId, anonymousId",
                    ExclusiveStartKey = start,
                    ReturnConsumedCapacity = ReturnConsumedCapacity.TOTAL,
                }, ct).ConfigureAwait(false);
                lock (gate)
                {
                    capacity += page.ConsumedCapacity?.CapacityUnits ?? 0;
                    foreach (var item in page.Items)
                    {
                        total++;
                        var type = item["eventType"].S;
                        byType[type] = byType.GetValueOrDefault(type) + 1;
                        if (item.TryGetValue("userId", out var user))
                        {
                            users.Add(user.S);
                        }
                        if (item.TryGetValue("anonymousId", out var anon))
                        {
                            anonymous.Add(anon.S);
                        }
                    }
                }
                start = page.LastEvaluatedKey is { Count: > 0 } next ? next : null;
            }
            while (start is not null);
        }).ConfigureAwait(false);
        return new WindowCounts(total, new SortedDictionary<string, long>(byType, StringComparer.Ordinal), users.Count, anonymous.Count, capacity);
    }

    /// <summary>Counts the records rejected during the window (by the time their rejection was written).</summary>
    public async Task<long> CountRejectedAsync(SummaryWindow window, CancellationToken cancellationToken)
    {
        long count = 0;
        var hour = new DateTimeOffset(window.Start.UtcDateTime.Date.AddHours(window.Start.UtcDateTime.Hour), TimeSpan.Zero);
        for (; hour < window.End; hour = hour.AddHours(1))
        {
            string? token = null;
            do
            {
                var page = await s3.ListObjectsV2Async(new ListObjectsV2Request
                {
                    BucketName = options.BucketName,
                    Prefix = $"rejected/{EventLayout.Partition(hour)}/",
                    ContinuationToken = token,
                }, cancellationToken).ConfigureAwait(false);
                count += (page.S3Objects ?? []).Count(o => o.LastModified is { } modified
                    && modified.ToUniversalTime() >= window.Start.UtcDateTime && modified.ToUniversalTime() < window.End.UtcDateTime);
                token = page.IsTruncated == true ? page.NextContinuationToken : null;
            }
            while (token is not null);
        }
        return count;
    }

    /// <summary>Messages waiting in the dead-letter queue now.</summary>
    public async Task<long> DeadLetterDepthAsync(CancellationToken cancellationToken) =>
        (await sqs.GetQueueAttributesAsync(options.DeadLetterQueueUrl, ["ApproximateNumberOfMessages"], cancellationToken).ConfigureAwait(false))
            .ApproximateNumberOfMessages;
}
