using System.IO.Compression;
using System.Text;
using Amazon.S3;
using Pipeline.Aggregator;
using Pipeline.Storage;

namespace Pipeline.Local;

/// <summary>
/// Reads the archive: object keys under a prefix, and the events of an object as JSON lines, whether the Processor wrote
/// it (gzip JSON lines) or the Aggregator compacted its hour (Parquet, each row restored to the line it was).
/// </summary>
public static class ArchiveReader
{
    /// <summary>Every key under <paramref name="prefix"/>, in order.</summary>
    public static async Task<List<string>> KeysAsync(IAmazonS3 s3, string bucket, string prefix, CancellationToken cancellationToken) =>
        [.. (await Pipeline.Aggregator.ArchiveListing.ListAsync(s3, bucket, prefix, cancellationToken)).Select(o => o.Key)];

    /// <summary>The events of one archive object, one JSON document each.</summary>
    public static async Task<List<string>> LinesAsync(IAmazonS3 s3, string bucket, string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(s3);
        ArgumentNullException.ThrowIfNull(key);
        using var response = await s3.GetObjectAsync(bucket, key, cancellationToken);
        if (key.EndsWith(".parquet", StringComparison.Ordinal))
        {
            var folder = Path.Combine(Path.GetTempPath(), $"pipeline-read-{Guid.NewGuid():N}");
            try
            {
                var path = Path.Combine(folder, "events.parquet");
                await response.WriteResponseStreamToFileAsync(path, false, cancellationToken);
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
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length > 0)
            {
                lines.Add(line);
            }
        }
        return lines;
    }
}
