using System.IO.Compression;
using System.Text;
using Amazon.S3;

namespace Pipeline.Local;

/// <summary>Reads the archive the Processor writes: object keys under a prefix, and the JSON lines of an events object.</summary>
public static class ArchiveReader
{
    /// <summary>Every key under <paramref name="prefix"/>, in order.</summary>
    public static async Task<List<string>> KeysAsync(IAmazonS3 s3, string bucket, string prefix, CancellationToken cancellationToken) =>
        [.. (await Pipeline.Aggregator.ArchiveListing.ListAsync(s3, bucket, prefix, cancellationToken)).Select(o => o.Key)];

    /// <summary>The events of one gzip JSON-lines object, one JSON document each.</summary>
    public static async Task<List<string>> LinesAsync(IAmazonS3 s3, string bucket, string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(s3);
        using var response = await s3.GetObjectAsync(bucket, key, cancellationToken);
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
