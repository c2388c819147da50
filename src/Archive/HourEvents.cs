using System.Data.Common;
using System.Runtime.CompilerServices;
using Amazon.S3;
using DuckDB.NET.Data;
using Pipeline.Events;

namespace Pipeline.Archive;

/// <summary>
/// Reads an hour of the archive one event at a time, for the readers that look at events rather than count them
/// (<c>replay</c>, <c>plan check</c>): its raw objects and compacted files, of any schema version (the reading rule of
/// <see cref="DuckDb.ParquetSelect"/>), each <c>eventId</c> once (its earliest received copy, as the <c>events</c> view
/// keeps), in <c>eventId</c> order, which no compaction changes: a reader that stopped after an <c>eventId</c> resumes
/// after it. The hour is downloaded to a temporary folder and read by DuckDB, which sorts within its memory limit and
/// spills to that folder past it, so memory does not grow with the hour's volume; the folder goes when the reading ends.
/// </summary>
public static class HourEvents
{
    /// <summary>
    /// What DuckDB may use while an hour is read: as in a 1,024 MB function, one thread (a sort of whole rows at this
    /// limit runs out of memory with two: each thread keeps its own runs; bench/results/readers.md).
    /// </summary>
    public static DuckDbLimits Limits { get; } = DuckDbLimits.ForFunction(1024);

    /// <summary>The hour's events whose <c>eventId</c> sorts after <paramref name="after"/> (all of them if null), in <c>eventId</c> order.</summary>
    public static async IAsyncEnumerable<QueuedEvent> ReadAsync(IAmazonS3 s3, string bucket, DateTimeOffset hour, string? after,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"pipeline-hour-{Guid.NewGuid():N}");
        try
        {
            using var archive = new ArchiveDownloads(s3, bucket, Path.Combine(folder, "archive"));
            var files = await archive.DownloadAsync(hour, cancellationToken).ConfigureAwait(false);
            if (files.Raw.Count == 0 && files.Parquet.Count == 0)
            {
                yield break;
            }
            using var duckDb = DuckDb.Open(Path.Combine(folder, "duckdb"), Limits);
            DuckDb.DefineViews(duckDb, files);
            await foreach (var e in ReadAsync(duckDb, after, cancellationToken).ConfigureAwait(false))
            {
                yield return e;
            }
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    /// <summary>The events of the views <see cref="DuckDb.DefineViews"/> defined on <paramref name="duckDb"/>, as above.</summary>
    public static async IAsyncEnumerable<QueuedEvent> ReadAsync(DuckDBConnection duckDb, string? after,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(duckDb);
        using var command = duckDb.CreateCommand();
        // Every copy, sorted so that an event's earliest copy comes first and the others are skipped as they stream by: a
        // sort spills to disk, where numbering the copies (the view's window) would hold the hour's rows in memory.
        command.CommandText = $"""
            SELECT {string.Join(", ", EventColumns.All.Select(c => $"\"{c.Name}\""))}
            FROM ({EventColumns.ArchivedSql()}) AS archived
            WHERE "eventId" IS NOT NULL AND "eventId" > $after
            ORDER BY "eventId", "receivedAtText"
            """;
        command.Parameters.Add(new DuckDBParameter("after", after ?? ""));
        // Streamed: DuckDB.NET otherwise materializes the whole result, outside DuckDB's memory limit, before the first row.
        command.UseStreamingMode = true;
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        string? previous = null;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var id = reader.GetString(0);
            if (id != previous)
            {
                previous = id;
                yield return ArchiveRow.Restore(reader);
            }
        }
    }
}
