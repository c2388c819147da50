using System.Globalization;
using System.Text.Json.Nodes;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.SQS;

namespace Pipeline.Local.Notifications;

/// <summary>
/// S3's event notifications, locally: fauxqs 2.4.1 has none, so this watches each notifying bucket's listing (key and
/// ETag) and sends an <c>ObjectCreated</c> event, in S3's shape, for every key it has not seen with that ETag. A
/// listing sees an object however it was created (PUT, copy, multipart upload; by our tool, the AWS CLI or any SDK),
/// where a proxy in front of fauxqs would have to know every call that creates one (docs/local.md, "S3 notifications").
/// Like S3, it delivers at least once: a restart sends again what it had sent, and the consumer must be idempotent.
/// </summary>
public sealed class BucketWatcher(IAmazonS3 s3, IAmazonSQS sqs, IReadOnlyList<QueueNotification> notifications, string region, Action<string> log)
{
    private readonly Dictionary<(string Bucket, string Key), string> _seen = [];
    private long _sequencer;

    /// <summary>How often the buckets are listed.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Watches until cancelled; an error is logged and the next listing tries again.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await PollOnceAsync(cancellationToken).ConfigureAwait(false);
                await Task.Delay(Interval, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is AmazonS3Exception or AmazonSQSException or HttpRequestException or IOException)
            {
                log($"S3 notifications: {e.Message}; retrying in 1 s");
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Lists each bucket once and notifies what is new; returns how many notifications it sent.</summary>
    public async Task<int> PollOnceAsync(CancellationToken cancellationToken)
    {
        var sent = 0;
        foreach (var bucket in notifications.GroupBy(n => n.Bucket))
        {
            var listed = new HashSet<string>(StringComparer.Ordinal);
            var request = new ListObjectsV2Request { BucketName = bucket.Key };
            ListObjectsV2Response page;
            do
            {
                page = await s3.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
                foreach (var o in page.S3Objects ?? [])
                {
                    listed.Add(o.Key);
                    var etag = o.ETag.Trim('"');
                    if (_seen.TryGetValue((bucket.Key, o.Key), out var known) && known == etag)
                    {
                        continue;
                    }
                    foreach (var target in bucket.Where(n => n.Matches(o.Key)))
                    {
                        var created = Event(target, o.Key, etag, o.Size ?? 0, o.LastModified ?? DateTime.UtcNow);
                        await sqs.SendMessageAsync(target.QueueUrl, created, cancellationToken).ConfigureAwait(false);
                        sent++;
                    }
                    _seen[(bucket.Key, o.Key)] = etag;
                }
                request.ContinuationToken = page.NextContinuationToken;
            }
            while (page.IsTruncated == true);
            foreach (var gone in _seen.Keys.Where(k => k.Bucket == bucket.Key && !listed.Contains(k.Key)).ToList())
            {
                _seen.Remove(gone);
            }
        }
        return sent;
    }

    /// <summary>
    /// A key as S3 writes it in an event: URL-encoded, a space as <c>+</c>, the slashes kept (AWS S3 User Guide, "Event
    /// message structure": "The s3 key provides information about the bucket and object involved in the event. The
    /// object key name value is URL encoded.").
    /// </summary>
    public static string EncodeKey(string key) =>
        string.Join('/', key.Split('/').Select(segment => Uri.EscapeDataString(segment).Replace("%20", "+", StringComparison.Ordinal)));

    private string Event(QueueNotification target, string key, string etag, long size, DateTime modified)
    {
        var sequencer = Interlocked.Increment(ref _sequencer).ToString("X16", CultureInfo.InvariantCulture);
        var record = new JsonObject
        {
            ["eventVersion"] = "2.1",
            ["eventSource"] = "aws:s3",
            ["awsRegion"] = region,
            ["eventTime"] = modified.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
            // A listing cannot tell how an object was made but for a multipart upload, whose ETag ends in -<parts>.
            ["eventName"] = etag.Contains('-', StringComparison.Ordinal) ? "ObjectCreated:CompleteMultipartUpload" : "ObjectCreated:Put",
            ["userIdentity"] = new JsonObject { ["principalId"] = "local" },
            ["requestParameters"] = new JsonObject { ["sourceIPAddress"] = "127.0.0.1" },
            ["responseElements"] = new JsonObject { ["x-amz-request-id"] = sequencer, ["x-amz-id-2"] = "local" },
            ["s3"] = new JsonObject
            {
                ["s3SchemaVersion"] = "1.0",
                ["configurationId"] = target.Id,
                ["bucket"] = new JsonObject
                {
                    ["name"] = target.Bucket,
                    ["ownerIdentity"] = new JsonObject { ["principalId"] = "local" },
                    ["arn"] = $"arn:aws:s3:::{target.Bucket}",
                },
                ["object"] = new JsonObject { ["key"] = EncodeKey(key), ["size"] = size, ["eTag"] = etag, ["sequencer"] = sequencer },
            },
        };
        return new JsonObject { ["Records"] = new JsonArray(record) }.ToJsonString();
    }
}
