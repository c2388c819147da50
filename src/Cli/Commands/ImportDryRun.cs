using System.IO.Compression;
using Amazon.DynamoDBv2;
using Pipeline.ApiKeys;
using Pipeline.Intake;
using Pipeline.Plans;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>import --dry-run FILE</c>: reads the file here, as the import function would read it under its key, and checks every
/// row against the same rules and the stack's current tracking plan (src/Intake's <see cref="RowChecker"/>); prints what
/// the import would do, and sends and writes nothing.
/// </summary>
public static class ImportDryRun
{
    /// <summary>Checks <paramref name="path"/> as the object <paramref name="key"/>; returns the exit code (1 if rows would be refused).</summary>
    public static async Task<int> RunAsync(IAmazonDynamoDB dynamoDb, StackResources resources, string path, string key, TextWriter output,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resources);
        ArgumentNullException.ThrowIfNull(output);
        var (format, error) = ImportFiles.Of(key);
        var plan = await PlanState.ReadAsync(new TrackingPlanStore(dynamoDb, resources.TrackingPlansTable), cancellationToken);
        // The stack's own time window, as its import function has it (ImportMaxAgeDays).
        var import = new ImportContext(DateTimeOffset.UtcNow, "dry-run", TimeSpan.FromDays(resources.ImportMaxAgeDays), TimeProvider.System);
        IRowParser? parser = format switch
        {
            ImportFormat.Events => new EventRowParser(import),
            ImportFormat.Segment => await new ApiKeyRegistry(dynamoDb, resources.ApiKeysTable).HashOfIdAsync(ImportFiles.SegmentKeyId(key)!, cancellationToken)
                is { } hash ? new SegmentRowParser(import, hash) : null,
            _ => null,
        };
        if (format == ImportFormat.Segment && parser is null)
        {
            error = $"No API key has the id {ImportFiles.SegmentKeyId(key)} (pipeline keys list).";
        }
        long read = 0, accepted = 0, refused = 0, duplicates = 0, blank = 0;
        // The first refused rows only, as the report lists them (a file of a million refused rows is not held here).
        var refusedRows = new List<(long Line, IReadOnlyList<string> Reasons)>();
        if (error is null)
        {
            // As the import function reads the object (ImportRun): its gzip trailer checked, a binary file or one that is
            // not the gzip its name says unreadable, a file corrupt halfway unreadable after the rows before.
            var gzip = ImportFiles.IsGzip(key);
            await using var file = File.OpenRead(path);
            await using var trailer = new GzipTrailerStream(file);
            await using Stream content = gzip ? new GZipStream(trailer, CompressionMode.Decompress) : trailer;
            var lines = new LineReader(content, MaxRecordBytes);
            var reader = new RecordReader(lines, format == ImportFormat.Csv, MaxRecordBytes);
            var seen = new Dictionary<RowKey, int>();
            RowChecker? rows = parser is null ? null : new RowChecker(parser, plan, $"file://{path}");
            long lastLine = 0;
            try
            {
                if ((await lines.PeekAsync(ImportFiles.BinaryPeekBytes, cancellationToken)).Span.Contains((byte)0))
                {
                    error = ImportFiles.BinaryError(format, gzip);
                }
            }
            catch (InvalidDataException e)
            {
                error = ImportFiles.UndecompressableError(e.Message);
            }
            while (error is null)
            {
                Record? next;
                try
                {
                    next = await reader.ReadAsync(cancellationToken);
                }
                catch (InvalidDataException e)
                {
                    error = ImportFiles.CorruptError(lastLine, e.Message);
                    break;
                }
                if (next is not { } record)
                {
                    if (gzip && !trailer.Matches(reader.Offset))
                    {
                        error = ImportFiles.TruncatedGzipError(reader.Offset, lastLine);
                    }
                    break;
                }
                lastLine = record.LastLine;
                if (rows is null)
                {
                    (parser, error) = record.Problem is { } problem ? (null, $"The header row (line 1): {problem}") : CsvRowParser.FromHeader(record.Bytes.Span, import);
                    if (parser is null)
                    {
                        break;
                    }
                    rows = new RowChecker(parser, plan, $"file://{path}");
                    continue;
                }
                read++;
                var outcome = rows.Check(record, seen);
                switch (outcome.Kind)
                {
                    case RowKind.Blank: blank++; break;
                    case RowKind.Duplicate: duplicates++; break;
                    case RowKind.Accepted: accepted++; break;
                    default:
                        refused++;
                        if (refusedRows.Count < ShownRefused)
                        {
                            refusedRows.Add((record.Line, [.. outcome.Reasons.Take(MaxReasons).Select(p => p.Length > MaxReasonLength ? p[..MaxReasonLength] : p)]));
                        }
                        break;
                }
            }
        }
        await output.WriteLineAsync($"{key} (dry run, tracking plan {(plan.Version is { } v ? $"version {v}" : "none")}): "
            + $"{(error is null ? "imported" : "unreadable")}; {read} read, {accepted} accepted, {refused} refused, {duplicates} duplicate(s), {blank} blank.");
        if (error is not null)
        {
            await output.WriteLineAsync($"  {error}");
        }
        foreach (var (line, reasons) in refusedRows)
        {
            await output.WriteLineAsync($"  line {line}: {string.Join(" ", reasons)}");
        }
        await output.WriteLineAsync("Nothing was sent.");
        return error is null && refused == 0 ? 0 : 1;
    }

    // The import function's (ImportRun.MaxLineBytes, MaxReasons, MaxReasonLength; the CLI does not reference the function),
    // and the refused rows `pipeline import` prints from a report.
    private const int MaxRecordBytes = 64 * 1024;
    private const int MaxReasons = 10;
    private const int MaxReasonLength = 300;
    private const int ShownRefused = 10;
}
