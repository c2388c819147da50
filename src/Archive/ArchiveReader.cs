using System.IO.Compression;
using System.Text;
using Amazon.S3;
using Pipeline.Storage;

namespace Pipeline.Archive;

/// <summary>
/// Reads the archive: object keys under a prefix, and the events of an object as JSON lines, whether the Processor wrote
/// it (gzip JSON lines) or the Aggregator compacted its hour (Parquet, each row restored to the line it was).
/// </summary>
public static class ArchiveReader
{
    /// <summary>The hours that overlap [<paramref name="from"/>, <paramref name="to"/>), oldest first.</summary>
    public static IEnumerable<DateTimeOffset> Hours(DateTimeOffset from, DateTimeOffset to)
    {
        for (var hour = EventLayout.Hour(from); hour < to; hour = hour.AddHours(1))
        {
            yield return hour;
        }
    }

    /// <summary>
    /// The keys of an hour's events: its compacted files, if any, then its raw objects (written since, or left by a
    /// compaction stopped before its deletes). The raw objects are listed first: a compaction that completes between the
    /// two listings has uploaded its file before deleting what it folded, so the second listing finds it.
    /// </summary>
    public static async Task<List<string>> HourKeysAsync(IAmazonS3 s3, string bucket, DateTimeOffset hour, CancellationToken cancellationToken)
    {
        var raw = await ArchiveListing.ListAsync(s3, bucket, EventLayout.EventsPrefix(hour), cancellationToken).ConfigureAwait(false);
        var compacted = await ArchiveListing.ListAsync(s3, bucket, EventLayout.ParquetPrefix(hour), cancellationToken).ConfigureAwait(false);
        return [.. compacted.Concat(raw).Select(o => o.Key)];
    }

    /// <summary>The events of one archive object, one JSON document each.</summary>
    public static async Task<List<string>> LinesAsync(IAmazonS3 s3, string bucket, string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(s3);
        ArgumentNullException.ThrowIfNull(key);
        using var response = await s3.GetObjectAsync(bucket, key, cancellationToken).ConfigureAwait(false);
        if (key.EndsWith(".parquet", StringComparison.Ordinal))
        {
            var folder = Path.Combine(Path.GetTempPath(), $"pipeline-read-{Guid.NewGuid():N}");
            try
            {
                var path = Path.Combine(folder, "events.parquet");
                await response.WriteResponseStreamToFileAsync(path, false, cancellationToken).ConfigureAwait(false);
                using var duckDb = DuckDb.Open(Path.Combine(folder, "duckdb"), DuckDbLimits.ForFunction(1024));
                return [.. ArchiveRow.Read(duckDb, [path]).Select(e => Encoding.UTF8.GetString(ArchiveLine.Serialize(e)))];
            }
            finally
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        using var reader = new StreamReader(new GZipStream(response.ResponseStream, CompressionMode.Decompress), Encoding.UTF8);
        var lines = new List<string>();
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length > 0)
            {
                lines.Add(line);
            }
        }
        return lines;
    }
}
