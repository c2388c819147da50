using Amazon.S3;
using Pipeline.Archive;
using Pipeline.Storage;

using Pipeline.Summaries;

namespace Pipeline.Aggregator;

/// <summary>An hour the Processor marked late, and the keys of its markers.</summary>
/// <param name="Hour">The hour an archive write came late to.</param>
/// <param name="Keys">Its markers' keys, under <c>late/</c>.</param>
public sealed record LateHour(DateTimeOffset Hour, IReadOnlyList<string> Keys);

/// <summary>
/// The late markers: the Processor leaves one under <c>late/</c> beside each archive write that may land past its hour's
/// look-back (a redrive, an S3 outage), so a run counts that hour's windows again; a marker is deleted once they are
/// counted and published (D10).
/// </summary>
public sealed class LateMarkers(IAmazonS3 s3, string bucketName)
{
    /// <summary>The late markers, by hour, oldest first.</summary>
    public async Task<List<LateHour>> ListAsync(CancellationToken cancellationToken) =>
        [.. (await ArchiveListing.ListAsync(s3, bucketName, EventLayout.LateRoot, cancellationToken).ConfigureAwait(false))
            .Select(o => (Hour: EventLayout.HourOf(o.Key), o.Key)).Where(m => m.Hour is not null)
            .GroupBy(m => m.Hour!.Value).OrderBy(g => g.Key).Select(g => new LateHour(g.Key, g.Select(m => m.Key).ToList()))];

    /// <summary>Deletes the given markers, one by one: those of the hours whose windows are counted and published.</summary>
    public async Task DeleteAsync(IEnumerable<string> keys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        foreach (var key in keys)
        {
            await s3.DeleteObjectAsync(bucketName, key, cancellationToken).ConfigureAwait(false);
        }
    }
}
