using System.CommandLine;
using System.Data.Common;
using System.Globalization;
using Amazon.S3;
using DuckDB.NET.Data;
using Pipeline.Archive;
using Pipeline.Cli;
using Pipeline.Storage;
using Pipeline.Summaries;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>query "SQL"</c>: runs SQL with DuckDB over the archive's hours in a range, through the <c>events</c> view the
/// deployment defines in Athena with the same statement (docs/query.md), so a query written here runs there unchanged.
/// The hours' objects, raw and compacted, are downloaded first; the command says how many bytes before it does.
/// </summary>
public static class QueryCommand
{
    /// <summary>The command.</summary>
    public static Command Create()
    {
        var sql = new Argument<string>("SQL") { Description = "the query, in one argument: over events (the view Athena has too), events_parquet and events_raw" };
        var format = new Option<Format>("--format") { Description = "table at a terminal; csv or json for programs", DefaultValueFactory = _ => Format.Table };
        var from = TypedOptions.Time("--from", "read the hours from this one's (default a day before --to)");
        var to = TypedOptions.Time("--to", "read the hours up to this time (default now)");
        var maxBytes = new Option<long>("--max-bytes")
        {
            Description = $"refuse to download more than this from the archive (default {DefaultMaxBytes >> 20} MB)",
            DefaultValueFactory = _ => DefaultMaxBytes,
        };
        var command = new Command("query", "run SQL over the archive's events, whole hours of a range (default the last day)") { sql, format, from, to, maxBytes };
        TypedOptions.RequireOrder(command, from, to);
        StackTarget.AddOptions(command, Services.S3);
        command.SetAction(async (r, ct) =>
        {
            var target = new StackTarget(r);
            var (start, end) = TypedOptions.Range(r, from, to, TimeSpan.FromDays(1));
            if (start >= end)
            {
                await r.InvocationConfiguration.Error.WriteLineAsync("--from must be before --to.");
                return 2;
            }
            using var s3 = target.S3();
            return await RunAsync(s3, await target.BucketAsync(ct), r.GetRequiredValue(sql), r.GetValue(format), start, end,
                r.InvocationConfiguration.Output, r.InvocationConfiguration.Error, ct, r.GetValue(maxBytes));
        });
        return command;
    }

    /// <summary>Output formats.</summary>
    public enum Format
    {
        /// <summary>A table, for a terminal.</summary>
        Table,

        /// <summary>CSV with a header row (RFC 4180).</summary>
        Csv,

        /// <summary>A JSON array of objects.</summary>
        Json,
    }

    /// <summary>Most bytes a query downloads from the archive unless told otherwise.</summary>
    public const long DefaultMaxBytes = 2L << 30;

    /// <summary>Most rows the table format shows (it lays out every row it holds); csv and json stream every row.</summary>
    public const int MaxTableRows = 1000;

    /// <summary>
    /// Runs the query over [from, to)'s hours; returns the exit code (2 for a query DuckDB refuses, with its message, or
    /// a range over <paramref name="maxBytes"/>). The SQL runs with no file or network access but to the downloaded hours.
    /// </summary>
    public static async Task<int> RunAsync(IAmazonS3 s3, string bucket, string sql, Format format, DateTimeOffset from, DateTimeOffset to,
        TextWriter output, TextWriter error, CancellationToken cancellationToken, long maxBytes = DefaultMaxBytes)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var folder = Path.Combine(Path.GetTempPath(), $"pipeline-query-{Guid.NewGuid():N}");
        try
        {
            var downloads = Path.Combine(folder, "archive");
            using var archive = new ArchiveDownloads(s3, bucket, downloads);
            var bytes = await SizeAsync(archive, from, to, cancellationToken);
            if (bytes > maxBytes)
            {
                await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"The range holds {bytes / 1048576.0:0.0} MB of archive, "
                    + $"more than --max-bytes ({maxBytes / 1048576.0:0.0} MB); nothing was downloaded. Narrow --from/--to, or raise --max-bytes."));
                return 2;
            }
            using var duckDb = await OpenAsync(archive, bucket, from, to, folder, error, cancellationToken);
            DuckDb.LockDown(duckDb, [downloads, Path.Combine(folder, "duckdb", "temp")]);
            try
            {
                await WriteAsync(duckDb, sql.Trim().TrimEnd(';'), format, output, cancellationToken);
            }
            catch (DuckDBException e)
            {
                await error.WriteLineAsync($"The query failed: {e.Message}");
                return 2;
            }
            return 0;
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    /// <summary>
    /// Downloads the hours of [from, to) with <paramref name="archive"/> (which keeps them until it is disposed), saying
    /// first how many bytes, and opens DuckDB in <paramref name="folder"/> with the archive's views (<c>events</c>,
    /// <c>events_parquet</c>, <c>events_raw</c>) over them.
    /// </summary>
    internal static async Task<DuckDBConnection> OpenAsync(ArchiveDownloads archive, string bucket, DateTimeOffset from, DateTimeOffset to, string folder,
        TextWriter error, CancellationToken cancellationToken)
    {
        var hours = ArchiveReader.Hours(from, to).ToList();
        long objects = 0, bytes = 0;
        foreach (var hour in hours)
        {
            var listed = await archive.ListAsync(hour, cancellationToken);
            objects += listed.Count;
            bytes += listed.Sum(o => o.Size ?? 0);
        }
        await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Reading {objects} object(s), {bytes / 1048576.0:0.0} MB, from s3://{bucket} for {hours.Count} hour(s) from {hours[0]:yyyy-MM-dd HH}:00 UTC."));
        var files = HourFiles.None;
        foreach (var hour in hours)
        {
            files = files.Concat(await archive.DownloadAsync(hour, cancellationToken));
        }
        var duckDb = DuckDb.Open(Path.Combine(folder, "duckdb"), DuckDbLimits.ForFunction((int)(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes >> 20)));
        DuckDb.DefineViews(duckDb, files);
        return duckDb;
    }

    // The bytes the range's objects hold (listing only; the listings are kept for the download).
    private static async Task<long> SizeAsync(ArchiveDownloads archive, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        long bytes = 0;
        foreach (var hour in ArchiveReader.Hours(from, to))
        {
            bytes += (await archive.ListAsync(hour, cancellationToken)).Sum(o => o.Size ?? 0);
        }
        return bytes;
    }

    // The user's SQL runs as it is, never inside a statement of ours; rows are written as they are read.
    private static async Task WriteAsync(DuckDBConnection duckDb, string sql, Format format, TextWriter output, CancellationToken cancellationToken)
    {
        using var command = duckDb.CreateCommand();
        command.CommandText = sql;
        command.UseStreamingMode = true; // DuckDB.NET otherwise materializes the whole result before the first row
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var names = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToArray();
        switch (format)
        {
            case Format.Csv:
                await ResultWriter.CsvAsync(reader, names, output, cancellationToken);
                return;
            case Format.Json:
                await ResultWriter.JsonAsync(reader, names, output, cancellationToken);
                return;
        }
        var table = Terminal.Table(names);
        var rows = 0L;
        while (await reader.ReadAsync(cancellationToken))
        {
            if (++rows <= MaxTableRows)
            {
                table.AddRow([.. Enumerable.Range(0, names.Length).Select(i => Markup.Escape(ResultWriter.Text(reader, i) ?? "NULL"))]);
            }
        }
        Terminal.For(output).Write(table);
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{rows} row(s){(rows > MaxTableRows ? $"; the first {MaxTableRows} shown (--format csv or json prints every row)" : "")}"));
    }
}
