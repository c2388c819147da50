using Amazon.S3;
using Amazon.S3.Model;

namespace Pipeline.Archive;

/// <summary>Lists the archive: the objects under a prefix, the hours that hold objects, the rejected records of a range.</summary>
public static class ArchiveListing
{
    /// <summary>Every object under <paramref name="prefix"/>, in key order.</summary>
    public static async Task<List<S3Object>> ListAsync(IAmazonS3 s3, string bucket, string prefix, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(s3);
        var objects = new List<S3Object>();
        string? token = null;
        do
        {
            var request = new ListObjectsV2Request { BucketName = bucket, Prefix = prefix, ContinuationToken = token };
            var page = await s3.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
            objects.AddRange(page.S3Objects ?? []);
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
        objects.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return objects;
    }

    /// <summary>The key of every object under <paramref name="prefix"/>, in order.</summary>
    public static async Task<List<string>> KeysAsync(IAmazonS3 s3, string bucket, string prefix, CancellationToken cancellationToken) =>
        [.. (await ListAsync(s3, bucket, prefix, cancellationToken).ConfigureAwait(false)).Select(o => o.Key)];

    /// <summary>
    /// The hours that hold objects under <paramref name="root"/> (<c>events/</c>: the hours not yet compacted), oldest
    /// first, from the partition folders alone (a listing per day, not per object).
    /// </summary>
    public static async Task<List<DateTimeOffset>> HoursAsync(IAmazonS3 s3, string bucket, string root, CancellationToken cancellationToken)
    {
        var hours = new List<DateTimeOffset>();
        foreach (var day in await FoldersAsync(s3, bucket, root, cancellationToken).ConfigureAwait(false))
        {
            hours.AddRange((await FoldersAsync(s3, bucket, day, cancellationToken).ConfigureAwait(false))
                .Select(Pipeline.Storage.EventLayout.HourOf).OfType<DateTimeOffset>());
        }
        hours.Sort();
        return hours;
    }

    /// <summary>
    /// How many records the Processor rejected whose messages were sent in [<paramref name="from"/>,
    /// <paramref name="to"/>), from a listing of <c>rejected/</c>'s partitions of those hours: each record once, however
    /// often it was delivered and rejected (its key is the same each time). A key of the earlier form, which named no send
    /// time, counts by when it was written.
    /// </summary>
    public static async Task<long> RejectedAsync(IAmazonS3 s3, string bucket, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        long count = 0;
        foreach (var hour in ArchiveReader.Hours(from, to))
        {
            var prefix = $"{Pipeline.Storage.EventLayout.RejectedRoot}{Pipeline.Storage.EventLayout.Partition(hour)}/";
            count += (await ListAsync(s3, bucket, prefix, cancellationToken).ConfigureAwait(false))
                .Count(o => (Pipeline.Storage.EventLayout.RejectedSent(o.Key) ?? o.LastModified?.ToUniversalTime()) is { } at && at >= from && at < to);
        }
        return count;
    }

    private static async Task<List<string>> FoldersAsync(IAmazonS3 s3, string bucket, string prefix, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(s3);
        var folders = new List<string>();
        string? token = null;
        do
        {
            var request = new ListObjectsV2Request { BucketName = bucket, Prefix = prefix, Delimiter = "/", ContinuationToken = token };
            var page = await s3.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
            folders.AddRange(page.CommonPrefixes ?? []);
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
        return folders;
    }
}
