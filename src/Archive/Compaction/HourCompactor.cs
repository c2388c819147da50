using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.S3.Transfer;
using DuckDB.NET.Data;
using Pipeline.Storage;

namespace Pipeline.Archive;

/// <summary>What compacting an hour did.</summary>
/// <param name="Hour">The hour.</param>
/// <param name="RawObjects">Raw objects folded in (deleted, unless the lease was lost).</param>
/// <param name="Events">Events in the new Parquet file (each <c>eventId</c> once).</param>
/// <param name="Bytes">The new Parquet file's size.</param>
/// <param name="LeaseLost">True if the lease was lost before the deletes: the new file is a duplicate, and nothing was deleted.</param>
public sealed record Compaction(DateTimeOffset Hour, int RawObjects, long Events, long Bytes, bool LeaseLost = false);

/// <summary>The steps of a compaction, between which a test can stop it.</summary>
public enum CompactionStep
{
    /// <summary>The hour's objects are listed and downloaded; nothing is written yet.</summary>
    Downloaded,

    /// <summary>The new Parquet file is uploaded; nothing is deleted yet, and the lease not yet checked.</summary>
    Uploaded,

    /// <summary>The lease is checked and the deletes are about to start.</summary>
    Deleting,
}

/// <summary>
/// Compacts an hour of the archive into one new Parquet file (zstd) of its own name, <c>parquet/dt=…/hour=…/events-ID.parquet</c>:
/// the hour's raw objects and its earlier Parquet files, if any (a late event recompacts its hour; a stale compactor's
/// duplicate is folded), each <c>eventId</c> once; then deletes exactly the objects it folded, and only while it holds
/// the hour's lease (D17). Each step leaves the archive whole: nothing is ever overwritten (every name is new), until
/// the upload completes nothing changes, and a stop between the upload and the deletes leaves an event in two files,
/// which every reader counts once. A compactor that lost its lease (renewed while it works, checked with its fencing
/// token before the deletes) deletes nothing, so a newer compaction's work is never undone.
/// </summary>
/// <remarks>
/// Lines are parsed here, not by DuckDB's JSON reader, which rewrites numbers (<c>1e2</c> becomes <c>100.0</c>): the
/// JSON columns keep each object's exact text, so every field of a line is restored from its row (<see cref="ArchiveRow"/>).
/// Strings go to DuckDB as UTF-8 bytes and are decoded in SQL, since the appender would cut a string at a NUL character.
/// </remarks>
public sealed class HourCompactor(IAmazonS3 s3, string bucketName, DuckDBConnection duckDb, HourLease lease, string folder,
    int chunkRows = HourCompactor.ChunkRows, TimeProvider? clock = null, Func<CompactionStep, CancellationToken, Task>? pause = null)
{
    /// <summary>Parts of a multipart upload: under the local emulator's 11 MiB limit of one PUT, and S3's 5 MiB minimum.</summary>
    public const long PartSize = 8 << 20;

    private const string Stage = "compaction_stage";

    /// <summary>Lines staged in DuckDB at once by default (about 1 KB each): what bounds the compaction's memory.</summary>
    public const int ChunkRows = 200_000;

    /// <summary>
    /// The hours a compaction should visit: those with raw objects, and those a compaction that lost its lease left a
    /// duplicate Parquet file in (<see cref="HourLease.PendingAsync"/>), oldest first.
    /// </summary>
    public async Task<List<DateTimeOffset>> HoursAsync(CancellationToken cancellationToken) =>
        [.. (await ArchiveListing.HoursAsync(s3, bucketName, EventLayout.EventsRoot, cancellationToken).ConfigureAwait(false))
            .Union(await lease.PendingAsync(cancellationToken).ConfigureAwait(false)).Order()];

    /// <summary>Compacts the hour; null if another holder has its lease, or it has no raw objects and at most one Parquet file.</summary>
    public async Task<Compaction?> CompactAsync(DateTimeOffset hour, CancellationToken cancellationToken)
    {
        hour = EventLayout.Hour(hour);
        if (await lease.TryAcquireAsync(hour, cancellationToken).ConfigureAwait(false) is not { } hold)
        {
            return null;
        }
        var work = Path.Combine(folder, $"compact-{Guid.NewGuid():N}");
        var (raw, events, bytes, uploaded) = (0, 0L, 0L, false);
        using var held = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewing = RenewAsync(hold, held);
        try
        {
            using var archive = new ArchiveDownloads(s3, bucketName, work);
            var folded = await archive.ListAsync(hour, held.Token).ConfigureAwait(false);
            raw = folded.Count(o => o.Key.StartsWith(EventLayout.EventsRoot, StringComparison.Ordinal));
            if (raw == 0 && folded.Count < 2)
            {
                await lease.ClearPendingAsync(hour, held.Token).ConfigureAwait(false); // nothing left to fold, if it was pending
                return null;
            }
            var files = await archive.DownloadAsync(hour, held.Token).ConfigureAwait(false);
            await Pause(CompactionStep.Downloaded, held.Token).ConfigureAwait(false);
            var output = Path.Combine(work, "events.parquet");
            events = Write(files, output, work, held.Token);
            bytes = new FileInfo(output).Length;
            await UploadAsync(output, EventLayout.ParquetKey(hour, Name()), held.Token).ConfigureAwait(false);
            uploaded = true;
            await Pause(CompactionStep.Uploaded, cancellationToken).ConfigureAwait(false);
            await held.CancelAsync().ConfigureAwait(false); // the renewals stop: each batch of deletes below is fenced itself
            foreach (var chunk in folded.Chunk(1000))
            {
                if (!await lease.RenewAsync(hold, cancellationToken).ConfigureAwait(false))
                {
                    // Its file is a duplicate now: the next compaction of the hour folds it, even with no raw object left.
                    await lease.MarkPendingAsync(hour, cancellationToken).ConfigureAwait(false);
                    return new Compaction(hour, raw, events, bytes, LeaseLost: true);
                }
                await Pause(CompactionStep.Deleting, cancellationToken).ConfigureAwait(false);
                await DeleteAsync(hour, chunk, cancellationToken).ConfigureAwait(false);
            }
            if (raw == 0)
            {
                await lease.ClearPendingAsync(hour, cancellationToken).ConfigureAwait(false); // it was visited for its duplicates
            }
            return new Compaction(hour, raw, events, bytes);
        }
        catch (OperationCanceledException) when (held.IsCancellationRequested && !uploaded && !cancellationToken.IsCancellationRequested)
        {
            // A renewal found the lease lost before the upload: nothing was written.
            return new Compaction(hour, raw, 0, 0, LeaseLost: true);
        }
        finally
        {
            await held.CancelAsync().ConfigureAwait(false);
            await renewing.ConfigureAwait(false);
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
            await ReleaseAsync(hold).ConfigureAwait(false);
        }
    }

    // Renews the lease every HourLease.RenewEvery while the compaction works; a renewal that finds it lost stops the
    // work. A renewal that fails (a throttle, a timeout) is tried again at the next turn: the fenced check decides.
    private async Task RenewAsync(LeaseHold hold, CancellationTokenSource held)
    {
        while (!held.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(HourLease.RenewEvery, clock ?? TimeProvider.System, held.Token).ConfigureAwait(false);
                if (!await lease.RenewAsync(hold, held.Token).ConfigureAwait(false))
                {
                    await held.CancelAsync().ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (held.IsCancellationRequested)
            {
                // The compaction ended.
            }
            catch (Exception e) when (e is AmazonServiceException or HttpRequestException or OperationCanceledException or IOException)
            {
                // Not a loss: the next turn, or the fenced check before the deletes, decides.
            }
        }
    }

    // Gives the lease back; if that fails the lease expires by itself, and the compaction's result stands.
    private async Task ReleaseAsync(LeaseHold hold)
    {
        try
        {
            await lease.ReleaseAsync(hold, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AmazonServiceException or HttpRequestException or OperationCanceledException or IOException)
        {
            // Expires within HourLease.Duration.
        }
    }

    private Task Pause(CompactionStep step, CancellationToken cancellationToken) => pause?.Invoke(step, cancellationToken) ?? Task.CompletedTask;

    // A name of its own, never used before: the time of the compaction and a random part.
    private string Name() => string.Create(CultureInfo.InvariantCulture, $"{(clock ?? TimeProvider.System).GetUtcNow().UtcDateTime:yyyyMMddTHHmmssfff}-{Guid.NewGuid():N}")[..35];

    private async Task UploadAsync(string path, string key, CancellationToken cancellationToken)
    {
        using var transfer = new TransferUtility(s3, new TransferUtilityConfig { MinSizeBeforePartUpload = PartSize });
        await transfer.UploadAsync(new TransferUtilityUploadRequest
        {
            BucketName = bucketName,
            Key = key,
            FilePath = path,
            PartSize = PartSize,
            ContentType = "application/vnd.apache.parquet",
            IfNoneMatch = "*", // a new name: never overwrites (S3 honours it; the local emulator ignores it)
        }, cancellationToken).ConfigureAwait(false);
    }

    // Deletes the objects it folded, each only if it still holds the bytes that were folded (its ETag): a key an older
    // version of the code may overwrite (events.parquet, a raw object named from message ids) is left if it was.
    // S3 honours the condition; the local emulator ignores it.
    private async Task DeleteAsync(DateTimeOffset hour, S3Object[] objects, CancellationToken cancellationToken)
    {
        var deleted = await s3.DeleteObjectsAsync(new DeleteObjectsRequest
        {
            BucketName = bucketName,
            Objects = [.. objects.Select(o => new KeyVersion { Key = o.Key, ETag = o.ETag })],
            Quiet = true,
        }, cancellationToken).ConfigureAwait(false);
        if (deleted.DeleteErrors?.Where(e => e.Code != "PreconditionFailed").ToList() is { Count: > 0 } errors)
        {
            throw new IOException($"S3 did not delete {errors.Count} object(s) of {EventLayout.Partition(hour)} ({errors[0].Code}); the next compaction folds and deletes them.");
        }
    }

    // Writes the hour's events, each once, to a Parquet file; returns how many. Memory stays bounded whatever the hour's
    // volume: lines go to DuckDB in chunks of ChunkRows, each written to a Parquet file of its own (ordered by receive
    // time); the earlier compacted file is a chunk as it is; then one pass keeps the first row of each eventId, found by a
    // hash aggregate over ids alone, and streams the rows to the output.
    private long Write(HourFiles files, string output, string work, CancellationToken cancellationToken)
    {
        var columns = EventColumns.All;
        // Every chunk is named chunk-N.parquet, the earlier compacted file too, so a row's id is (N, row) in one BIGINT.
        var chunks = new List<string>();
        foreach (var earlier in files.Parquet)
        {
            var path = Path.Combine(work, $"chunk-{chunks.Count}.parquet");
            File.Move(earlier, path);
            chunks.Add(path);
        }
        DuckDb.Execute(duckDb, $"CREATE OR REPLACE TABLE {Stage} ({string.Join(", ", columns.Select(c => $"\"{c.Name}\" {StageType(c)}"))})", cancellationToken);
        try
        {
            var appender = duckDb.CreateAppender(Stage);
            var rows = 0;
            try
            {
                foreach (var file in files.Raw)
                {
                    // GZipStream reads the concatenated objects of a download file as one stream.
                    using var reader = new StreamReader(new GZipStream(File.OpenRead(file), CompressionMode.Decompress), Encoding.UTF8);
                    while (reader.ReadLine() is { } line)
                    {
                        if (line.Length == 0)
                        {
                            continue;
                        }
                        Append(appender.CreateRow(), line).EndRow();
                        if (++rows == chunkRows)
                        {
                            appender.Dispose();
                            cancellationToken.ThrowIfCancellationRequested();
                            chunks.Add(Flush(work, chunks.Count, cancellationToken));
                            appender = duckDb.CreateAppender(Stage);
                            rows = 0;
                        }
                    }
                }
            }
            finally
            {
                appender.Dispose();
            }
            if (rows > 0)
            {
                chunks.Add(Flush(work, chunks.Count, cancellationToken));
            }
            // The reading rule: an earlier file of an older schema reads its missing columns as NULL.
            var all = $"({DuckDb.ParquetSelect(duckDb, chunks, columns, ["filename", "file_row_number"], "hive_partitioning = false, filename = true, file_row_number = true")})";
            const string id = "(CAST(regexp_extract(filename, 'chunk-([0-9]+)[.]parquet$', 1) AS BIGINT) << 40) + file_row_number";
            DuckDb.Execute(duckDb, $"""
                COPY (
                    SELECT {string.Join(", ", columns.Select(c => $"c.\"{c.Name}\""))}
                    FROM {all} AS c
                    SEMI JOIN (SELECT min({id}) AS first FROM {all} GROUP BY "eventId") AS k
                        ON {id.Replace("filename", "c.filename", StringComparison.Ordinal).Replace("file_row_number", "c.file_row_number", StringComparison.Ordinal)} = k.first
                ) TO '{DuckDb.Quote(output)}' (FORMAT parquet, COMPRESSION zstd)
                """, cancellationToken);
            using var command = duckDb.CreateCommand();
            command.CommandText = $"SELECT count(*) FROM read_parquet('{DuckDb.Quote(output)}')"; // from the file's footer
            return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
        finally
        {
            DuckDb.Execute(duckDb, $"DROP TABLE IF EXISTS {Stage}", CancellationToken.None);
        }
    }

    // Writes the staged lines to a chunk file with the output's column types, and empties the stage.
    private string Flush(string work, int index, CancellationToken cancellationToken)
    {
        var path = Path.Combine(work, $"chunk-{index}.parquet");
        DuckDb.Execute(duckDb, $"""
            COPY (
                SELECT {string.Join(", ", EventColumns.All.Select(c => c.DuckDbType == "VARCHAR" ? $"decode(\"{c.Name}\") AS \"{c.Name}\"" : $"\"{c.Name}\""))}
                FROM {Stage} ORDER BY "receivedAt"
            ) TO '{DuckDb.Quote(path)}' (FORMAT parquet, COMPRESSION zstd);
            DELETE FROM {Stage};
            """, cancellationToken);
        return path;
    }

    private static string StageType(EventColumn column) => column.DuckDbType == "VARCHAR" ? "BLOB" : column.DuckDbType;

    // One line as a row: each column from its field (absent or null: NULL), JSON objects as their exact text.
    private static IDuckDBAppenderRow Append(IDuckDBAppenderRow row, string line)
    {
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        foreach (var column in EventColumns.All)
        {
            if (!root.TryGetProperty(column.Field, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                row = row.AppendNullValue();
                continue;
            }
            row = column.Kind switch
            {
                ColumnKind.Number => row.AppendValue(value.GetInt32()),
                ColumnKind.Time => row.AppendValue(value.GetDateTimeOffset().UtcDateTime),
                ColumnKind.Json => row.AppendValue(Encoding.UTF8.GetBytes(value.GetRawText())),
                _ => row.AppendValue(Encoding.UTF8.GetBytes(value.GetString()!)),
            };
        }
        return row;
    }
}
