using System.Security.Cryptography;
using System.Text;
using Amazon.S3;
using Amazon.S3.Model;
using Pipeline.Storage;

namespace Pipeline.Archive;

/// <summary>An hour's archive on local disk: gzip JSON-lines files (each the concatenated objects of a worker) and its Parquet file, if compacted.</summary>
public sealed record HourFiles(IReadOnlyList<string> Raw, IReadOnlyList<string> Parquet)
{
    /// <summary>No files.</summary>
    public static HourFiles None { get; } = new([], []);

    /// <summary>The files of both.</summary>
    public HourFiles Concat(HourFiles other) => new([.. Raw, .. other?.Raw ?? []], [.. Parquet, .. other?.Parquet ?? []]);
}

/// <summary>
/// Lists and downloads the archive's hours, raw and compacted, to a folder of the run's own, each hour once per run (a run counts several
/// windows, and revisions, from the same hours). Objects stream to disk, so memory does not grow with the volume:
/// <see cref="Workers"/> downloads at once, each appending its objects to its own file (gzip readers read concatenated
/// members), so an hour of thousands of objects is a few files. Files keep their hour's <c>dt=…/hour=…</c> partition in
/// their path, as the keys do. The folder is deleted when the run ends.
/// </summary>
public sealed class ArchiveDownloads(IAmazonS3 s3, string bucketName, string folder) : IDisposable
{
    /// <summary>Downloads at once (S3 serves each GET at its own pace; a few dozen keep a Lambda's network busy).</summary>
    public const int Workers = 32;

    private readonly Dictionary<DateTimeOffset, HourFiles> _hours = [];
    private readonly Dictionary<DateTimeOffset, List<S3Object>> _listings = [];

    /// <summary>The keys, sizes and ETags of an hour's objects, raw and compacted, listed once per run.</summary>
    public async Task<IReadOnlyList<S3Object>> ListAsync(DateTimeOffset hour, CancellationToken cancellationToken)
    {
        hour = EventLayout.Hour(hour);
        if (_listings.TryGetValue(hour, out var listed))
        {
            return listed;
        }
        var objects = await ArchiveListing.ListAsync(s3, bucketName, EventLayout.EventsPrefix(hour), cancellationToken).ConfigureAwait(false);
        objects.AddRange(await ArchiveListing.ListAsync(s3, bucketName, EventLayout.ParquetPrefix(hour), cancellationToken).ConfigureAwait(false));
        return _listings[hour] = objects;
    }

    /// <summary>
    /// SHA-256 over the hours' keys, sizes and ETags, events and rejected records: what a window was counted from (equal
    /// fingerprints, equal contents), so a rejection written after a window was counted makes it count again.
    /// </summary>
    public async Task<string> FingerprintAsync(IEnumerable<DateTimeOffset> hours, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(hours);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var hour in hours)
        {
            var rejected = await ArchiveListing.ListAsync(s3, bucketName, $"{EventLayout.RejectedRoot}{EventLayout.Partition(hour)}/", cancellationToken).ConfigureAwait(false);
            foreach (var o in (await ListAsync(hour, cancellationToken).ConfigureAwait(false)).Concat(rejected))
            {
                hash.AppendData(Encoding.UTF8.GetBytes($"{o.Key}\t{o.Size}\t{o.ETag}\n"));
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The hour's objects on local disk, downloaded once per run.</summary>
    public async Task<HourFiles> DownloadAsync(DateTimeOffset hour, CancellationToken cancellationToken)
    {
        hour = EventLayout.Hour(hour);
        if (_hours.TryGetValue(hour, out var done))
        {
            return done;
        }
        var objects = await ListAsync(hour, cancellationToken).ConfigureAwait(false);
        var raw = objects.Where(o => o.Key.StartsWith(EventLayout.EventsRoot, StringComparison.Ordinal)).ToList();
        var parquet = objects.Where(o => o.Key.StartsWith(EventLayout.ParquetRoot, StringComparison.Ordinal)).ToList();
        var rawFolder = Path.Combine(folder, EventLayout.EventsPrefix(hour));
        Directory.CreateDirectory(rawFolder);
        var files = new string[Math.Min(Workers, raw.Count)];
        var next = -1;
        await Parallel.ForEachAsync(Enumerable.Range(0, files.Length), cancellationToken, async (worker, token) =>
        {
            files[worker] = Path.Combine(rawFolder, $"part-{worker}.jsonl.gz");
            await using var file = new FileStream(files[worker], FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            for (var i = Interlocked.Increment(ref next); i < raw.Count; i = Interlocked.Increment(ref next))
            {
                using var response = await s3.GetObjectAsync(bucketName, raw[i].Key, token).ConfigureAwait(false);
                await response.ResponseStream.CopyToAsync(file, token).ConfigureAwait(false);
            }
        }).ConfigureAwait(false);
        var compacted = new List<string>();
        foreach (var o in parquet)
        {
            // A local name of ours, never the key's (a key could hold "..", "*" or "["): the hour's partition and a number.
            var path = Path.Combine(folder, EventLayout.ParquetPrefix(hour), $"compacted-{compacted.Count}.parquet");
            using var response = await s3.GetObjectAsync(bucketName, o.Key, cancellationToken).ConfigureAwait(false);
            await response.WriteResponseStreamToFileAsync(path, append: false, cancellationToken).ConfigureAwait(false);
            compacted.Add(path);
        }
        // A worker that found no object left wrote an empty file, which is not gzip: it is no part of the hour.
        return _hours[hour] = new HourFiles([.. files.Where(f => new FileInfo(f).Length > 0)], compacted);
    }

    /// <summary>Deletes the run's files.</summary>
    public void Dispose()
    {
        _hours.Clear();
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
