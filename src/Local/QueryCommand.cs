using System.CommandLine;
using System.Data.Common;
using System.Globalization;
using Amazon.S3;
using DuckDB.NET.Data;
using Pipeline.Aggregator;
using Pipeline.Archive;
using Pipeline.Local.Cli;
using Pipeline.Storage;
using Spectre.Console;

namespace Pipeline.Local;

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
        var command = new Command("query", "run SQL over the archive's events, whole hours of a range (default the last day)") { sql, format, from, to };
        TypedOptions.RequireOrder(command, from, to);
        StackTarget.AddOptions(command, Services.S3);
        command.SetAction(async (r, ct) =>
        {
            var target = new StackTarget(r);
            var end = r.GetValue(to) ?? TimeProvider.System.GetUtcNow();
            var start = r.GetValue(from) ?? end.AddDays(-1);
            if (start >= end)
            {
                await r.InvocationConfiguration.Error.WriteLineAsync("--from must be before --to.");
                return 2;
            }
            using var s3 = target.S3();
            return await RunAsync(s3, target.Bucket, r.GetRequiredValue(sql), r.GetValue(format), start, end,
                r.InvocationConfiguration.Output, r.InvocationConfiguration.Error, ct);
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

    /// <summary>Runs the query over [from, to)'s hours; returns the exit code (2 for a query DuckDB refuses, with its message).</summary>
    public static async Task<int> RunAsync(IAmazonS3 s3, string bucket, string sql, Format format, DateTimeOffset from, DateTimeOffset to,
        TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var folder = Path.Combine(Path.GetTempPath(), $"pipeline-query-{Guid.NewGuid():N}");
        try
        {
            using var archive = new ArchiveDownloads(s3, bucket, Path.Combine(folder, "archive"));
            using var duckDb = await OpenAsync(archive, bucket, from, to, folder, error, cancellationToken);
            try
            {
                await WriteAsync(duckDb, sql.Trim().TrimEnd(';'), format, Path.Combine(folder, "result"), output, cancellationToken);
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

    private static async Task WriteAsync(DuckDBConnection duckDb, string sql, Format format, string resultPath, TextWriter output, CancellationToken cancellationToken)
    {
        using var command = duckDb.CreateCommand();
        if (format != Format.Table)
        {
            // DuckDB writes CSV and JSON itself (quoting, escapes, types), to a file this command then prints.
            command.CommandText = $"COPY ({sql}) TO '{resultPath.Replace("'", "''", StringComparison.Ordinal)}' " +
                (format == Format.Csv ? "(FORMAT csv, HEADER true)" : "(FORMAT json, ARRAY true)");
            await command.ExecuteNonQueryAsync(cancellationToken);
            await output.WriteAsync(await File.ReadAllTextAsync(resultPath, cancellationToken));
            return;
        }
        command.CommandText = sql;
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var table = Terminal.Table([.. Enumerable.Range(0, reader.FieldCount).Select(reader.GetName)]);
        var rows = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            var cells = new string[reader.FieldCount];
            for (var i = 0; i < cells.Length; i++)
            {
                cells[i] = reader.IsDBNull(i) ? "NULL" : Markup.Escape(reader.GetValue(i) switch
                {
                    DateTime time => time.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture),
                    var value => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
                });
            }
            table.AddRow(cells);
            rows++;
        }
        Terminal.For(output).Write(table);
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{rows} row(s)"));
    }
}
