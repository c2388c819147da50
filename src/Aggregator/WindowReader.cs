using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.SQS;
using Pipeline.Storage;

namespace Pipeline.Aggregator;

/// <summary>The counts of a window, and how many archived events were read to count them.</summary>
public sealed record WindowCounts(long Total, IReadOnlyDictionary<string, long> ByEventType, long UniqueUsers, long UniqueAnonymousIds, long EventsRead);

/// <summary>
/// Counts a window from the archive (docs/architecture.md, D10): the objects of the hour partitions the window overlaps,
/// each event once by its <c>eventId</c> (the archive may hold one twice), never a table Scan or a per-event index, so
/// the cost is a few S3 requests per window. Also counts rejected records and the dead-letter queue's depth.
/// </summary>
public sealed class WindowReader(IAmazonS3 s3, IAmazonSQS sqs, string bucketName, string deadLetterQueueUrl)
{
    // The events of each object read in this run, by key: objects are immutable (a key names its messages), and a run
    // counts overlapping windows (revisions) from the same partitions.
    private readonly Dictionary<string, List<ArchivedEvent>> _objects = new(StringComparer.Ordinal);

    private sealed record ArchivedEvent(string EventId, string EventType, string? UserId, string? AnonymousId, DateTimeOffset ReceivedAt);

    /// <summary>Forgets the objects read, so the next run reads the archive afresh.</summary>
    public void Reset() => _objects.Clear();

    /// <summary>Counts the events received in the window.</summary>
    public async Task<WindowCounts> CountEventsAsync(SummaryWindow window, CancellationToken cancellationToken)
    {
        var byType = new Dictionary<string, long>(StringComparer.Ordinal);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var users = new HashSet<string>(StringComparer.Ordinal);
        var anonymous = new HashSet<string>(StringComparer.Ordinal);
        long read = 0;
        for (var hour = Hour(window.Start); hour < window.End; hour = hour.AddHours(1))
        {
            foreach (var key in await KeysAsync($"events/{EventLayout.Partition(hour)}/", cancellationToken).ConfigureAwait(false))
            {
                foreach (var e in await EventsAsync(key, cancellationToken).ConfigureAwait(false))
                {
                    read++;
                    if (e.ReceivedAt < window.Start || e.ReceivedAt >= window.End || !ids.Add(e.EventId))
                    {
                        continue;
                    }
                    byType[e.EventType] = byType.GetValueOrDefault(e.EventType) + 1;
                    if (e.UserId is { } user)
                    {
                        users.Add(user);
                    }
                    if (e.AnonymousId is { } anon)
                    {
                        anonymous.Add(anon);
                    }
                }
            }
        }
        return new WindowCounts(ids.Count, new SortedDictionary<string, long>(byType, StringComparer.Ordinal), users.Count, anonymous.Count, read);
    }

    private static DateTimeOffset Hour(DateTimeOffset time) => new(time.UtcDateTime.Date.AddHours(time.UtcDateTime.Hour), TimeSpan.Zero);

    private async Task<List<string>> KeysAsync(string prefix, CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        string? token = null;
        do
        {
            var page = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucketName, Prefix = prefix, ContinuationToken = token }, cancellationToken).ConfigureAwait(false);
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
        return keys;
    }

    private async Task<List<ArchivedEvent>> EventsAsync(string key, CancellationToken cancellationToken)
    {
        if (_objects.TryGetValue(key, out var cached))
        {
            return cached;
        }
        var events = new List<ArchivedEvent>();
        using (var response = await s3.GetObjectAsync(bucketName, key, cancellationToken).ConfigureAwait(false))
        await using (var gzip = new GZipStream(response.ResponseStream, CompressionMode.Decompress))
        using (var reader = new StreamReader(gzip, Encoding.UTF8))
        {
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                if (line.Length > 0 && Parse(line) is { } e)
                {
                    events.Add(e);
                }
            }
        }
        _objects[key] = events;
        return events;
    }

    // The fields a summary counts; a line without them (none is written so) is skipped.
    private static ArchivedEvent? Parse(string line)
    {
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        return root.TryGetProperty("eventId", out var id) && id.ValueKind == JsonValueKind.String
            && root.TryGetProperty("eventType", out var type) && type.ValueKind == JsonValueKind.String
            && root.TryGetProperty("receivedAt", out var at) && at.TryGetDateTimeOffset(out var receivedAt)
            ? new ArchivedEvent(id.GetString()!, type.GetString()!, Text(root, "userId"), Text(root, "anonymousId"), receivedAt)
            : null;
    }

    private static string? Text(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text ? text : null;

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
                    BucketName = bucketName,
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
        (await sqs.GetQueueAttributesAsync(deadLetterQueueUrl, ["ApproximateNumberOfMessages"], cancellationToken).ConfigureAwait(false))
            .ApproximateNumberOfMessages;
}
