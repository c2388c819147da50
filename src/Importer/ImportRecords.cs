using System.Globalization;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Pipeline.Storage;

namespace Pipeline.Importer;

/// <summary>
/// The imports table: one record per imported object (key and ETag), created by a conditional write, moved on by
/// checkpoints conditional on the line the writer started from, so of two invocations on one file (a redelivered
/// notification beside a continuation) only one goes on; the other stops at its first checkpoint.
/// </summary>
public sealed class ImportRecords(IAmazonDynamoDB dynamoDb, string tableName)
{
    /// <summary>The record of <paramref name="job"/>, created (importing, line 0) if it has none.</summary>
    public async Task<ImportProgress> StartAsync(ImportJob job, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        try
        {
            await dynamoDb.PutItemAsync(new PutItemRequest
            {
                TableName = tableName,
                Item = new()
                {
                    ["importId"] = new() { S = job.ImportId },
                    ["file"] = new() { S = job.File },
                    ["key"] = new() { S = job.Key },
                    ["etag"] = new() { S = job.ETag },
                    ["status"] = new() { S = ImportProgress.Importing },
                    ["startedAt"] = new() { S = EventLayout.FormatTime(now) },
                    ["updatedAt"] = new() { S = EventLayout.FormatTime(now) },
                    ["line"] = N(0),
                    ["offset"] = N(0),
                    ["rowsRead"] = N(0),
                    ["accepted"] = N(0),
                    ["refused"] = N(0),
                    ["duplicates"] = N(0),
                    ["blank"] = N(0),
                    ["refusedRows"] = new() { L = [] },
                },
                ConditionExpression = "attribute_not_exists(importId)",
            }, cancellationToken).ConfigureAwait(false);
            return new ImportProgress { StartedAt = now };
        }
        catch (ConditionalCheckFailedException)
        {
            return await ReadAsync(job, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"The record of {job.ImportId} exists and cannot be read.");
        }
    }

    /// <summary>The record of <paramref name="job"/>, or null.</summary>
    public async Task<ImportProgress?> ReadAsync(ImportJob job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var item = await GetAsync(job, cancellationToken).ConfigureAwait(false);
        return item is { Count: > 0 } ? Progress(item) : null;
    }

    /// <summary>The refused rows the record lists.</summary>
    public async Task<IReadOnlyList<RefusedRow>> RefusedRowsAsync(ImportJob job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var item = await GetAsync(job, cancellationToken).ConfigureAwait(false);
        return item?.TryGetValue("refusedRows", out var rows) == true && rows.L is { } list
            ? [.. list.Select(r => new RefusedRow(long.Parse(r.M["line"].N, CultureInfo.InvariantCulture), [.. r.M["reasons"].L.Select(s => s.S)]))]
            : [];
    }

    private async Task<Dictionary<string, AttributeValue>?> GetAsync(ImportJob job, CancellationToken cancellationToken) =>
        (await dynamoDb.GetItemAsync(new GetItemRequest
        {
            TableName = tableName,
            Key = new() { ["importId"] = new() { S = job.ImportId } },
            ConsistentRead = true,
        }, cancellationToken).ConfigureAwait(false)).Item;

    /// <summary>
    /// Moves the record from line <paramref name="from"/> to <paramref name="progress"/>; false if another invocation moved it
    /// first. Each checkpoint writes a token of its own: if its response is lost and the SDK's retry finds the condition failed,
    /// the token on the record tells that the first attempt moved it, and the checkpoint is a success, not a lost race that
    /// would stop the import with no continuation and strand the file as importing.
    /// </summary>
    public async Task<bool> CheckpointAsync(ImportJob job, long from, ImportProgress progress, IReadOnlyList<RefusedRow> newlyRefused,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(progress);
        ArgumentNullException.ThrowIfNull(newlyRefused);
        var token = Guid.NewGuid().ToString("N");
        try
        {
            await dynamoDb.UpdateItemAsync(new UpdateItemRequest
            {
                TableName = tableName,
                Key = new() { ["importId"] = new() { S = job.ImportId } },
                UpdateExpression = "SET #line = :line, #offset = :offset, rowsRead = :rowsRead, accepted = :accepted, refused = :refused, "
                    + "duplicates = :duplicates, blank = :blank, updatedAt = :now, refusedRows = list_append(refusedRows, :rows), checkpoint = :token",
                ConditionExpression = "#line = :from AND #status = :importing",
                ReturnValuesOnConditionCheckFailure = ReturnValuesOnConditionCheckFailure.ALL_OLD,
                ExpressionAttributeNames = new() { ["#line"] = "line", ["#offset"] = "offset", ["#status"] = "status" },
                ExpressionAttributeValues = new()
                {
                    [":line"] = N(progress.Line),
                    [":offset"] = N(progress.Offset),
                    [":rowsRead"] = N(progress.RowsRead),
                    [":accepted"] = N(progress.Accepted),
                    [":refused"] = N(progress.Refused),
                    [":duplicates"] = N(progress.Duplicates),
                    [":blank"] = N(progress.Blank),
                    [":now"] = new() { S = EventLayout.FormatTime(now) },
                    [":rows"] = new() { L = [.. newlyRefused.Select(Refused)] },
                    [":from"] = N(from),
                    [":importing"] = new() { S = ImportProgress.Importing },
                    [":token"] = new() { S = token },
                },
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ConditionalCheckFailedException e)
        {
            return e.Item?.TryGetValue("checkpoint", out var written) == true && written.S == token;
        }
    }

    /// <summary>Closes the record at line <paramref name="from"/> with its outcome and report; false if another invocation moved it first.</summary>
    public async Task<bool> FinishAsync(ImportJob job, long from, string status, string? error, string reportKey, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var values = new Dictionary<string, AttributeValue>
        {
            [":status"] = new() { S = status },
            [":report"] = new() { S = reportKey },
            [":now"] = new() { S = EventLayout.FormatTime(now) },
            [":from"] = N(from),
            [":importing"] = new() { S = ImportProgress.Importing },
        };
        var update = "SET #status = :status, reportKey = :report, finishedAt = :now, updatedAt = :now";
        if (error is not null)
        {
            update += ", #error = :error";
            values[":error"] = new() { S = error };
        }
        try
        {
            await dynamoDb.UpdateItemAsync(new UpdateItemRequest
            {
                TableName = tableName,
                Key = new() { ["importId"] = new() { S = job.ImportId } },
                UpdateExpression = update,
                ConditionExpression = "#line = :from AND #status = :importing",
                ExpressionAttributeNames = error is null
                    ? new() { ["#line"] = "line", ["#status"] = "status" }
                    : new() { ["#line"] = "line", ["#status"] = "status", ["#error"] = "error" },
                ExpressionAttributeValues = values,
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ConditionalCheckFailedException)
        {
            return false;
        }
    }

    private static ImportProgress Progress(Dictionary<string, AttributeValue> item) => new()
    {
        Status = item["status"].S,
        Line = Long(item, "line"),
        Offset = Long(item, "offset"),
        RowsRead = Long(item, "rowsRead"),
        Accepted = Long(item, "accepted"),
        Refused = Long(item, "refused"),
        Duplicates = Long(item, "duplicates"),
        Blank = Long(item, "blank"),
        RefusedListed = item.TryGetValue("refusedRows", out var rows) ? rows.L?.Count ?? 0 : 0,
        StartedAt = DateTimeOffset.Parse(item["startedAt"].S, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal),
    };

    private static long Long(Dictionary<string, AttributeValue> item, string name) =>
        item.TryGetValue(name, out var v) && v.N is { } n ? long.Parse(n, CultureInfo.InvariantCulture) : 0;

    private static AttributeValue N(long value) => new() { N = value.ToString(CultureInfo.InvariantCulture) };

    private static AttributeValue Refused(RefusedRow row) => new()
    {
        M = new() { ["line"] = N(row.Line), ["reasons"] = new() { L = [.. row.Reasons.Select(r => new AttributeValue { S = r })] } },
    };
}
