using System.IO.Compression;
using System.Text.Json;
using Amazon.DynamoDBv2;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.SQS;
using Amazon.SQS.Model;
using Pipeline.ApiKeys;
using Pipeline.Events;
using Pipeline.Intake;
using Pipeline.Lambda;
using Pipeline.Plans;
using Pipeline.Sns;

namespace Pipeline.Importer;

/// <summary>
/// Imports one object from where its record stands: streams it (decompressing a <c>.gz</c>), reads it in its format
/// (<see cref="ImportFiles"/>), checks each row against the rules and the tracking plan (<see cref="RowChecker"/>), sends the
/// accepted rows to the import events queue as batch messages, checkpoints after each send, and near the deadline sends a
/// continuation and stops. At the end it writes the report, raises an alert if rows were refused or the file could not
/// be read, and closes the record (docs/import.md).
/// </summary>
public sealed class ImportRun(ImporterOptions options, IAmazonS3 s3, IAmazonSQS sqs, SnsClient sns, ImportRecords records, IAmazonDynamoDB dynamoDb,
    TimeProvider clock, FunctionLog log)
{
    /// <summary>Longest line (or CSV row) read; a longer one is refused (the Api's largest event is 32 KB).</summary>
    public const int MaxLineBytes = 64 * 1024;

    // Rows a send takes: ten batch messages of up to 100 events, one SendMessageBatch or a few. The record is moved past
    // the rows sent at most once a second (a retry sends again at most a second of rows, under the same ids), not after
    // every send: a write per 1,000 rows held the import to the table's latency.
    private const int RowsPerSend = 1000;
    private static readonly TimeSpan CheckpointEvery = TimeSpan.FromSeconds(1);
    private const int MaxReasons = 10;
    private const int MaxReasonLength = 300;

    /// <summary>Imports <paramref name="job"/> until its end or <paramref name="deadline"/> less a reserve.</summary>
    public async Task RunAsync(ImportJob job, DateTimeOffset deadline, string requestId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var started = clock.GetUtcNow();
        var stopAt = deadline - TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(15).Ticks, (deadline - started).Ticks / 4));
        var progress = await records.StartAsync(job, started, cancellationToken).ConfigureAwait(false);
        if (progress.Status != ImportProgress.Importing)
        {
            log.Write("INFO", $"{job.File} ({job.ETag}) was already {progress.Status}: nothing to do");
            return;
        }
        if (job.Continued && (progress.Line != job.Line || progress.Offset != job.Offset))
        {
            // A continuation delivered again after its invocation moved the record and died (a failed send, a timeout), or
            // beside another invocation: it goes on from the record. Of two invocations on the file, the one whose
            // checkpoint finds the record moved stops; stopping here would leave a failed continuation's file importing.
            log.Write("INFO", $"{job.File}: a continuation at line {job.Line}, but the record is at line {progress.Line}: going on from the record");
        }
        var (format, formatError) = ImportFiles.Of(job.Key);
        // The plan in force now applies to this invocation's rows; a plan that cannot be read fails the invocation, to be
        // retried from the checkpoint (an import never goes on unchecked where the plan would block).
        var plan = await PlanState.ReadAsync(new TrackingPlanStore(dynamoDb, options.PlansTableName), cancellationToken).ConfigureAwait(false);
        var import = new ImportContext(started, requestId, options.MaxAge, clock);
        IRowParser? parser = format switch
        {
            ImportFormat.Events => new EventRowParser(import),
            ImportFormat.Segment => await SegmentParserAsync(job, import, cancellationToken).ConfigureAwait(false),
            _ => null, // CSV: from its header
        };
        formatError ??= format == ImportFormat.Segment && parser is null
            ? $"No API key has the id {ImportFiles.SegmentKeyId(job.Key)} (pipeline keys list): the messages' ids are made from the write key's."
            : null;
        if (formatError is not null)
        {
            await FinishAsync(job, progress, [], ImportProgress.Unreadable, formatError, cancellationToken).ConfigureAwait(false);
            return;
        }

        // A continuation brings the occurrences seen up to its line: a plain file is then read from its byte offset on.
        // The lines between it and the record's checkpoint (a continuation delivered again), or all the lines before the
        // checkpoint (a first run, or a killed run resumed by the notification again), are read again to count them, and
        // not sent again.
        var seen = job.Continued && job.Line <= progress.Line ? await LoadStateAsync(job, cancellationToken).ConfigureAwait(false) : null;
        var (countedLine, countedOffset) = seen is null ? (0L, 0L) : (job.Line, job.Offset);
        var gzip = ImportFiles.IsGzip(job.Key);
        var ranged = seen is not null && !gzip && countedOffset > 0;
        if (ranged && format == ImportFormat.Csv)
        {
            (parser, var headerError) = await CsvHeaderAsync(job, import, cancellationToken).ConfigureAwait(false);
            if (headerError is not null)
            {
                await FinishAsync(job, progress, [], ImportProgress.Unreadable, headerError, cancellationToken).ConfigureAwait(false);
                return;
            }
        }
        GetObjectResponse? response = null;
        try
        {
            response = await s3.GetObjectAsync(new GetObjectRequest
            {
                BucketName = job.Bucket,
                Key = job.Key,
                ByteRange = ranged ? new ByteRange($"bytes={countedOffset}-") : null,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (ranged && e.StatusCode == System.Net.HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // The previous invocation stopped at the very end of the file.
        }
        catch (AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            // Deleted before its import finished (by its uploader, or the lifecycle rule): retrying would only reach the DLQ.
            await FinishAsync(job, progress, [], ImportProgress.Unreadable, Gone, cancellationToken).ConfigureAwait(false);
            return;
        }
        using var _ = response;
        if (response is not null && job.ETag.Length > 0 && response.ETag.Trim('"') != job.ETag)
        {
            await FinishAsync(job, progress, [], ImportProgress.Unreadable,
                $"The object was replaced (ETag {response.ETag.Trim('"')}, not {job.ETag}) before it was imported; the new one is imported on its own.",
                cancellationToken).ConfigureAwait(false);
            return;
        }
        using var trailer = new GzipTrailerStream(response?.ResponseStream ?? Stream.Null);
        using Stream content = gzip ? new GZipStream(trailer, CompressionMode.Decompress) : trailer;
        var lines = ranged ? new LineReader(content, MaxLineBytes, countedLine, countedOffset) : new LineReader(content, MaxLineBytes);
        var reader = new RecordReader(lines, format == ImportFormat.Csv, MaxLineBytes);
        string? error = null;
        var head = ReadOnlyMemory<byte>.Empty;
        try
        {
            head = ranged ? head : await lines.PeekAsync(ImportFiles.BinaryPeekBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            // A .gz name on a file that is not gzip: a file no retry can read, not a failed invocation (retried until the DLQ,
            // the file left importing with no report).
            error = ImportFiles.UndecompressableError(e.Message);
        }
        if (error is null && head.Span.Contains((byte)0))
        {
            error = ImportFiles.BinaryError(format, gzip);
        }
        else if (error is null)
        {
            var (done, unreadable) = await ImportLinesAsync(job, progress, reader, parser, import, plan, seen, countedLine, stopAt, cancellationToken)
                .ConfigureAwait(false);
            if (done is null)
            {
                return; // continued, or another invocation has the file
            }
            progress = done;
            error = unreadable;
            if (error is null && gzip && !trailer.Matches(reader.Offset))
            {
                error = ImportFiles.TruncatedGzipError(reader.Offset, progress.Line);
            }
        }
        await FinishAsync(job, progress, [], error is null ? ImportProgress.Imported : ImportProgress.Unreadable, error, cancellationToken).ConfigureAwait(false);
    }

    // Returns the final progress at the end of the file (and why the file could not be read to its end, if so); null if the
    // run continued in another invocation or lost the file to another.
    // parser is null for a CSV file read from its start: its first record is the header, which makes it.
    private async Task<(ImportProgress? Progress, string? Error)> ImportLinesAsync(ImportJob job, ImportProgress progress, RecordReader reader,
        IRowParser? parser, ImportContext import, PlanState plan, Dictionary<RowKey, int>? saved, long savedLine, DateTimeOffset stopAt,
        CancellationToken cancellationToken)
    {
        var rows = parser is null ? null : new RowChecker(parser, plan, job.File);
        // Occurrences of each row within the file (by its own eventId, or its bytes), so a derived id is the same whichever
        // invocation sends the row (docs/import.md, "Exactly once"): saved by a previous invocation up to savedLine, and
        // counted again from there to the record's line.
        var seen = saved ?? [];
        // The last line read: the run stops at its deadline only once the occurrences are counted up to the record's line,
        // or the state it saves with its continuation would miss some and give later rows the ids of earlier ones.
        var lastRead = savedLine;
        var pending = new List<string>();
        var refused = new List<RefusedRow>();
        var current = progress;
        var checkpointed = progress;
        // The previous chunk's send and checkpoint, under way while the next chunk is read: one at a time, in order, and
        // awaited before any other checkpoint, so the record still never moves past rows not yet on the queue.
        var previous = Task.FromResult(true);
        var lastCheckpoint = clock.GetUtcNow();
        string? error = null;
        while (true)
        {
            if (lastRead >= progress.Line && clock.GetUtcNow() >= stopAt)
            {
                if (!await previous.ConfigureAwait(false))
                {
                    return (null, null);
                }
                await s3.PutObjectAsync(new PutObjectRequest
                {
                    BucketName = options.BucketName,
                    Key = OccurrenceState.Key(job, current.Line),
                    InputStream = new MemoryStream(OccurrenceState.Write(seen)),
                }, cancellationToken).ConfigureAwait(false);
                if (!await CheckpointAsync(job, checkpointed, current, pending, refused, cancellationToken).ConfigureAwait(false))
                {
                    return (null, null);
                }
                await sqs.SendMessageAsync(options.ImportQueueUrl, job.ContinuationBody(current.Line, current.Offset), cancellationToken).ConfigureAwait(false);
                log.Write("INFO", $"{job.File}: continuing at line {current.Line} (offset {current.Offset}) in the next invocation");
                return (null, null);
            }
            Record? next;
            try
            {
                next = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidDataException e)
            {
                // A corrupt gzip stream: what was read before it is still sent and recorded.
                error = ImportFiles.CorruptError(current.Line, e.Message);
                break;
            }
            if (next is not { } record)
            {
                break;
            }
            lastRead = record.LastLine;
            var replay = record.LastLine <= progress.Line;
            if (rows is null)
            {
                // A CSV file's header: not a row, but the lines it takes are done.
                (parser, error) = record.Problem is { } problem ? (null, $"The header row (line 1): {problem}")
                    : CsvRowParser.FromHeader(record.Bytes.Span, import);
                if (parser is null)
                {
                    break;
                }
                rows = new RowChecker(parser, plan, job.File);
                if (!replay && record.LastLine > savedLine)
                {
                    current = current with { Line = record.LastLine, Offset = record.End };
                }
                continue;
            }
            if (record.LastLine <= savedLine)
            {
                continue; // a gzip file resumed with its saved occurrences: only decompressed up to where they were saved
            }
            var outcome = rows.Check(record, seen);
            if (replay)
            {
                continue;
            }
            current = current with { Line = record.LastLine, Offset = record.End, RowsRead = current.RowsRead + 1 };
            switch (outcome.Kind)
            {
                case RowKind.Blank:
                    current = current with { Blank = current.Blank + 1 };
                    continue;
                case RowKind.Refused:
                    if (current.RefusedListed + refused.Count < ImportReport.MaxRefusedListed)
                    {
                        refused.Add(new RefusedRow(record.Line, [.. outcome.Reasons.Take(MaxReasons).Select(p => p.Length > MaxReasonLength ? p[..MaxReasonLength] : p)]));
                    }
                    current = current with { Refused = current.Refused + 1 };
                    continue;
                case RowKind.Duplicate:
                    current = current with { Duplicates = current.Duplicates + 1 };
                    continue;
            }
            pending.Add(JsonSerializer.Serialize(outcome.Event!, EventJsonContext.Default.QueuedEvent));
            current = current with { Accepted = current.Accepted + 1 };
            if (pending.Count >= RowsPerSend)
            {
                if (!await previous.ConfigureAwait(false))
                {
                    return (null, null);
                }
                if (clock.GetUtcNow() - lastCheckpoint < CheckpointEvery)
                {
                    previous = CheckpointAsync(job, checkpointed, checkpointed, pending, [], cancellationToken); // sends only
                    pending = [];
                    continue;
                }
                previous = CheckpointAsync(job, checkpointed, current, pending, [.. refused], cancellationToken);
                pending = [];
                checkpointed = current with { RefusedListed = current.RefusedListed + refused.Count };
                current = checkpointed;
                refused.Clear();
                lastCheckpoint = clock.GetUtcNow();
            }
        }
        if (error is null && (reader.Offset < progress.Offset || current.Line < progress.Line))
        {
            error = $"The file ends before line {progress.Line}, where its import had got to: it changed under the same ETag.";
        }
        if (!await previous.ConfigureAwait(false) || !await CheckpointAsync(job, checkpointed, current, pending, refused, cancellationToken).ConfigureAwait(false))
        {
            return (null, null);
        }
        return (current with { RefusedListed = current.RefusedListed + refused.Count }, error);
    }

    // A Segment file's parser: its messages' ids are made from the hash of the write key it is filed under; null if no key has that id.
    private async Task<IRowParser?> SegmentParserAsync(ImportJob job, ImportContext import, CancellationToken cancellationToken)
    {
        var keyId = ImportFiles.SegmentKeyId(job.Key);
        var hash = keyId is null ? null
            : await new ApiKeyRegistry(dynamoDb, options.ApiKeysTableName).HashOfIdAsync(keyId, cancellationToken).ConfigureAwait(false);
        return hash is null ? null : new SegmentRowParser(import, hash);
    }

    private const string Gone = "The object was deleted before its import finished; the rows before were imported.";

    // A CSV file resumed from a byte offset: its header, read from the start of the object.
    private async Task<(IRowParser? Parser, string? Error)> CsvHeaderAsync(ImportJob job, ImportContext import, CancellationToken cancellationToken)
    {
        GetObjectResponse response;
        try
        {
            response = await s3.GetObjectAsync(new GetObjectRequest
            {
                BucketName = job.Bucket,
                Key = job.Key,
                EtagToMatch = job.ETag.Length > 0 ? $"\"{job.ETag}\"" : null,
                ByteRange = new ByteRange(0, MaxLineBytes * 2),
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode is System.Net.HttpStatusCode.PreconditionFailed or System.Net.HttpStatusCode.NotFound)
        {
            return (null, e.StatusCode == System.Net.HttpStatusCode.NotFound
                ? Gone
                : $"The object was replaced before it was imported (not ETag {job.ETag}); the new one is imported on its own.");
        }
        using var _ = response;
        var header = await new RecordReader(new LineReader(response.ResponseStream, MaxLineBytes), true, MaxLineBytes).ReadAsync(cancellationToken).ConfigureAwait(false);
        return header is { Problem: null } h ? CsvRowParser.FromHeader(h.Bytes.Span, import) : (null, "The header row (line 1) cannot be read.");
    }

    private async Task<Dictionary<RowKey, int>?> LoadStateAsync(ImportJob job, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await s3.GetObjectAsync(options.BucketName, OccurrenceState.Key(job, job.Line), cancellationToken).ConfigureAwait(false);
            // Sized from the start: grown by doubling, a state of 10 M rows (200 MB) would pass through arrays of twice that.
            using var bytes = new MemoryStream(response.ContentLength is > 0 and < int.MaxValue ? (int)response.ContentLength : 0);
            await response.ResponseStream.CopyToAsync(bytes, cancellationToken).ConfigureAwait(false);
            return OccurrenceState.Read(bytes.GetBuffer().AsSpan(0, (int)bytes.Length));
        }
        catch (AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            log.Write("WARN", $"{job.File}: no saved occurrences at line {job.Line}; the lines before are counted again");
            return null;
        }
    }

    // Sends what is pending, then moves the record; the rows are on the queue before the record says they are done.
    private async Task<bool> CheckpointAsync(ImportJob job, ImportProgress from, ImportProgress to, List<string> pending, List<RefusedRow> refused,
        CancellationToken cancellationToken)
    {
        await SendAsync(pending, cancellationToken).ConfigureAwait(false);
        pending.Clear();
        if (to == from && refused.Count == 0)
        {
            return true;
        }
        var moved = await records.CheckpointAsync(job, from.Line, to, refused, clock.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (!moved)
        {
            log.Write("INFO", $"{job.File}: another invocation moved the record past line {from.Line}; this one stops");
        }
        return moved;
    }

    private async Task SendAsync(List<string> events, CancellationToken cancellationToken)
    {
        var messages = EventBatchMessage.Pack(events).ToList();
        var batch = new List<string>();
        var bytes = 0;
        foreach (var message in messages)
        {
            var size = System.Text.Encoding.UTF8.GetByteCount(message);
            // SendMessageBatch takes at most 10 messages and 256 KiB in all.
            if (batch.Count == 10 || (batch.Count > 0 && bytes + size > 250_000))
            {
                await SendBatchAsync(batch, cancellationToken).ConfigureAwait(false);
                batch.Clear();
                bytes = 0;
            }
            batch.Add(message);
            bytes += size;
        }
        if (batch.Count > 0)
        {
            await SendBatchAsync(batch, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task SendBatchAsync(List<string> bodies, CancellationToken cancellationToken)
    {
        var entries = bodies.Select((b, i) => new SendMessageBatchRequestEntry(i.ToString(System.Globalization.CultureInfo.InvariantCulture), b)).ToList();
        for (var attempt = 1; entries.Count > 0; attempt++)
        {
            var request = new SendMessageBatchRequest { QueueUrl = options.EventsQueueUrl, Entries = entries };
            var response = await sqs.SendMessageBatchAsync(request, cancellationToken).ConfigureAwait(false);
            var failed = response.Failed ?? [];
            if (failed.Count == 0)
            {
                return;
            }
            if (attempt == 5)
            {
                // The invocation fails and its message returns: the record's checkpoint is before these rows.
                throw new InvalidOperationException($"SQS refused {failed.Count} message(s) 5 times: {failed[0].Code} {failed[0].Message}");
            }
            entries = [.. entries.Where(e => failed.Any(f => f.Id == e.Id))];
            await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task FinishAsync(ImportJob job, ImportProgress progress, IReadOnlyList<RefusedRow> pendingRefused, string status, string? error,
        CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var refusedRows = (await records.RefusedRowsAsync(job, cancellationToken).ConfigureAwait(false)).Concat(pendingRefused).ToList();
        var report = new ImportReport
        {
            File = job.File,
            ETag = job.ETag,
            Status = status,
            Error = error,
            RowsRead = progress.RowsRead,
            Accepted = progress.Accepted,
            Refused = progress.Refused,
            Duplicates = progress.Duplicates,
            Blank = progress.Blank,
            RefusedRows = refusedRows,
            StartedAt = progress.StartedAt,
            FinishedAt = now,
        };
        var reportKey = ReportKey(job);
        await s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = options.BucketName,
            Key = reportKey,
            ContentType = "application/json",
            ContentBody = JsonSerializer.Serialize(report, ImportJsonContext.Default.ImportReport),
        }, cancellationToken).ConfigureAwait(false);
        // The alert goes before the record closes: if the invocation dies between the two, the retry alerts again (at
        // least once), never not at all.
        if (status != ImportProgress.Imported || report.Refused > 0)
        {
            var what = error ?? $"{report.Refused} row(s) refused, first at line {refusedRows.FirstOrDefault()?.Line}";
            await sns.PublishAsync(options.AlertTopicArn,
                $"{job.File} ({status}): {what}. {report.Accepted} row(s) accepted of {report.RowsRead}. Report: s3://{options.BucketName}/{reportKey}",
                Subject($"Import {status}: {Path.GetFileName(job.Key)}"),
                new Dictionary<string, string> { ["status"] = status, ["file"] = job.File }, cancellationToken).ConfigureAwait(false);
        }
        if (await records.FinishAsync(job, progress.Line, status, error, reportKey, now, cancellationToken).ConfigureAwait(false))
        {
            log.Write(status == ImportProgress.Imported ? "INFO" : "WARN",
                $"{job.File}: {status}; {report.RowsRead} read, {report.Accepted} accepted, {report.Refused} refused, {report.Duplicates} duplicates"
                + (error is null ? "" : $": {error}"));
        }
    }

    // An SNS subject is at most 100 characters.
    private static string Subject(string text) => text.Length <= 100 ? text : text[..100];

    /// <summary>Where the report of <paramref name="job"/> is written: under <c>reports/</c>, by the file's key (without <c>uploads/</c>) and ETag.</summary>
    public static string ReportKey(ImportJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var name = job.Key.StartsWith(ImporterOptions.UploadsPrefix, StringComparison.Ordinal) ? job.Key[ImporterOptions.UploadsPrefix.Length..] : job.Key;
        return $"{ImporterOptions.ReportsPrefix}{name}.{job.ETag}.json";
    }
}
