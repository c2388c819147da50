using Amazon.S3;
using Amazon.SQS;
using Pipeline.Archive;

using Pipeline.Summaries;

namespace Pipeline.Aggregator;

/// <summary>
/// Counts a window from the archive, with DuckDB (<see cref="WindowCounter"/>), and makes its summary
/// (<see cref="SummaryContent"/>) with what the counts do not hold: the records rejected during the window, from the
/// archive's listing, and the dead-letter queue's depth.
/// </summary>
public sealed class WindowSummarizer(AggregatorOptions options, IAmazonS3 s3, IAmazonSQS sqs, TimeProvider clock, ScratchSpace scratch)
{
    /// <summary>The window's counts and the fingerprint of the archive they come from; null counts if the fingerprint is <paramref name="unchangedFrom"/>.</summary>
    public async Task<(WindowCounts? Counts, string Fingerprint)> CountAsync(
        ArchiveDownloads archive, SummaryWindow window, string? unchangedFrom, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(archive);
        var hours = ArchiveReader.Hours(window.Start, window.End).ToList();
        var fingerprint = await archive.FingerprintAsync(hours, cancellationToken).ConfigureAwait(false);
        if (fingerprint == unchangedFrom)
        {
            return (null, fingerprint);
        }
        var files = HourFiles.None;
        foreach (var hour in hours)
        {
            files = files.Concat(await archive.DownloadAsync(hour, cancellationToken).ConfigureAwait(false));
        }
        return (await new WindowCounter(scratch.DuckDbConnection).CountAsync(files, window, cancellationToken).ConfigureAwait(false), fingerprint);
    }

    /// <summary>The summary of the window's counts, as revision <paramref name="revision"/>, made now.</summary>
    public async Task<Summary> SummarizeAsync(SummaryWindow window, WindowCounts counts, int revision, CancellationToken cancellationToken)
    {
        var rejected = await ArchiveListing.RejectedAsync(s3, options.BucketName, window.Start, window.End, cancellationToken).ConfigureAwait(false);
        var deadLetters = await sqs.GetQueueAttributesAsync(options.DeadLetterQueueUrl, ["ApproximateNumberOfMessages"], cancellationToken).ConfigureAwait(false);
        var deadLetterDepth = deadLetters.ApproximateNumberOfMessages;
        return SummaryContent.From(window, counts, revision, options.TopEventTypes, rejected, deadLetterDepth, clock.GetUtcNow());
    }
}
