using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.S3;
using Amazon.S3.Transfer;
using Pipeline.Intake;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>import FILE</c>: uploads a file (JSON Lines of events, CSV, or with <c>--segment KEYID</c> a Segment archive) to the
/// stack's imports bucket (under <c>uploads/</c>; a multipart upload for a large file) and waits for its report
/// (<c>--no-wait</c> returns at once); <c>--dry-run</c> checks it here and uploads nothing; <c>import status [KEY]</c>
/// lists recent imports, or one file's (docs/import.md).
/// </summary>
public static class ImportCommand
{
    /// <summary>The command.</summary>
    public static Command Create()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "a .jsonl, .ndjson or .csv file, or any gzipped (.gz); with --segment, a Segment archive" };
        var key = new Option<string?>("--key") { Description = "its name under uploads/ (default: the file's name)" };
        var segment = new Option<string?>("--segment")
        {
            Description = "a Segment archive, imported under the write key with this id (pipeline keys list): to uploads/segment/KEYID/",
        };
        var dryRun = new Option<bool>("--dry-run") { Description = "check every row here against the rules and the stack's plan; upload nothing" };
        var noWait = new Option<bool>("--no-wait") { Description = "return once uploaded, without waiting for the report" };
        var timeout = new Option<int>("--timeout") { Description = "seconds to wait for the report (default 900)", DefaultValueFactory = _ => 900 };
        var command = new Command("import", "upload a file of events (JSON Lines, CSV, a Segment archive) to the stack's imports bucket and wait for its report")
        {
            file, key, segment, dryRun, noWait, timeout,
        };
        StackTarget.AddOptions(command, Services.S3 | Services.DynamoDb);
        command.Validators.Add(r =>
        {
            if (r.GetValue(file) is { Exists: false } missing)
            {
                r.AddError($"No file {missing.FullName}.");
            }
            else if (ImportFiles.Of(UploadKey(r.GetValue(key) ?? r.GetValue(file)?.Name ?? "", r.GetValue(segment))).Error is { } error)
            {
                r.AddError($"{error} (the import function reads only those)");
            }
        });
        command.SetAction(async (r, ct) =>
        {
            var target = new StackTarget(r);
            var resources = await target.ResourcesAsync(ct);
            using var s3 = target.S3();
            using var dynamoDb = target.DynamoDb();
            var path = r.GetValue(file)!;
            var uploadKey = UploadKey(r.GetValue(key) ?? path.Name, r.GetValue(segment));
            if (r.GetValue(dryRun))
            {
                return await ImportDryRun.RunAsync(dynamoDb, resources, path.FullName, uploadKey, r.InvocationConfiguration.Output, ct);
            }
            return await UploadAsync(s3, dynamoDb, Bucket(resources), Table(resources), path.FullName, uploadKey,
                r.GetValue(noWait) ? null : TimeSpan.FromSeconds(r.GetValue(timeout)), r.InvocationConfiguration.Output, ct);
        });

        var statusKey = new Argument<string?>("KEY") { Description = "a file's name under uploads/ (default: the 20 most recent imports)", Arity = ArgumentArity.ZeroOrOne };
        var status = new Command("status", "list recent imports and their outcome, or one file's report") { statusKey };
        StackTarget.AddOptions(status, Services.S3 | Services.DynamoDb);
        status.SetAction(async (r, ct) =>
        {
            var target = new StackTarget(r);
            var resources = await target.ResourcesAsync(ct);
            using var s3 = target.S3();
            using var dynamoDb = target.DynamoDb();
            return await StatusAsync(s3, dynamoDb, Bucket(resources), Table(resources), r.GetValue(statusKey), r.InvocationConfiguration.Output, ct);
        });
        command.Subcommands.Add(status);
        return command;
    }

    // Where the file goes: under uploads/, and a Segment archive under the id of its write key.
    private static string UploadKey(string name, string? segmentKeyId) =>
        segmentKeyId is null ? ImportFiles.UploadsPrefix + name : $"{ImportFiles.SegmentPrefix}{segmentKeyId}/{name}";

    /// <summary>Uploads, then (unless <paramref name="wait"/> is null) waits for the file's record to close and prints its report; returns the exit code.</summary>
    public static async Task<int> UploadAsync(IAmazonS3 s3, IAmazonDynamoDB dynamoDb, string bucket, string table, string path, string key, TimeSpan? wait,
        TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        // TransferUtility (AWSSDK.S3's own) switches to a multipart upload for a large file: from 5 MB, S3's smallest part, not
        // its default 16 MB, because the local S3 (fauxqs) refuses a single PUT of more than about 11 MB.
        using (var transfer = new TransferUtility(s3, new TransferUtilityConfig { MinSizeBeforePartUpload = 5 * 1024 * 1024 }))
        {
            await transfer.UploadAsync(path, bucket, key, cancellationToken);
        }
        var etag = (await s3.GetObjectMetadataAsync(bucket, key, cancellationToken)).ETag.Trim('"');
        await output.WriteLineAsync($"Uploaded s3://{bucket}/{key} (ETag {etag}).");
        if (wait is not { } limit)
        {
            await output.WriteLineAsync($"Its report: pipeline import status \"{key["uploads/".Length..]}\"");
            return 0;
        }
        var id = $"s3://{bucket}/{key}#{etag}";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var item = (await dynamoDb.GetItemAsync(new GetItemRequest { TableName = table, Key = new() { ["importId"] = new() { S = id } }, ConsistentRead = true },
                cancellationToken)).Item;
            if (item is { Count: > 0 } && item["status"].S != "importing")
            {
                return await PrintAsync(s3, bucket, item, output, cancellationToken);
            }
            if (clock.Elapsed > limit)
            {
                var where = item is { Count: > 0 } ? $" (at line {item["line"].N})" : " (not started: is the import function running?)";
                await output.WriteLineAsync($"No report after {limit.TotalSeconds:0} s{where}; "
                    + $"see: pipeline import status \"{key["uploads/".Length..]}\"");
                return 1;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
        }
    }

    /// <summary>Prints recent imports, or the records and report of one key; returns the exit code.</summary>
    public static async Task<int> StatusAsync(IAmazonS3 s3, IAmazonDynamoDB dynamoDb, string bucket, string table, string? key, TextWriter output,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        // The table holds one small record per imported file: a scan reads them all (no index: imports are rare).
        var items = new List<Dictionary<string, AttributeValue>>();
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var page = await dynamoDb.ScanAsync(new ScanRequest { TableName = table, ExclusiveStartKey = start }, cancellationToken);
            items.AddRange(page.Items ?? []);
            start = page.LastEvaluatedKey is { Count: > 0 } last ? last : null;
        }
        while (start is not null);
        if (key is not null)
        {
            var full = key.StartsWith("uploads/", StringComparison.Ordinal) ? key : "uploads/" + key;
            var mine = items.Where(i => i["key"].S == full).OrderByDescending(i => i["startedAt"].S, StringComparer.Ordinal).ToList();
            if (mine.Count == 0)
            {
                await output.WriteLineAsync($"No import of {full} in {table}.");
                return 1;
            }
            return await PrintAsync(s3, bucket, mine[0], output, cancellationToken);
        }
        await output.WriteLineAsync($"{"started (UTC)",-20} {"status",-10} {"read",9} {"accepted",9} {"refused",8}  file");
        foreach (var i in items.OrderByDescending(i => i["startedAt"].S, StringComparer.Ordinal).Take(20))
        {
            var counts = $"{N(i, "rowsRead"),9} {N(i, "accepted"),9} {N(i, "refused"),8}";
            await output.WriteLineAsync($"{i["startedAt"].S[..19],-20} {i["status"].S,-10} {counts}  {i["key"].S["uploads/".Length..]}");
        }
        await output.WriteLineAsync($"{items.Count} import(s) in all.");
        return 0;
    }

    private static async Task<int> PrintAsync(IAmazonS3 s3, string bucket, Dictionary<string, AttributeValue> item, TextWriter output, CancellationToken cancellationToken)
    {
        var status = item["status"].S;
        await output.WriteLineAsync($"{item["file"].S}: {status}; {N(item, "rowsRead")} read, {N(item, "accepted")} accepted, {N(item, "refused")} refused, "
            + $"{N(item, "duplicates")} duplicate(s), {N(item, "blank")} blank.");
        if (item.TryGetValue("error", out var error))
        {
            await output.WriteLineAsync($"  {error.S}");
        }
        if (item.TryGetValue("reportKey", out var reportKey))
        {
            using var response = await s3.GetObjectAsync(bucket, reportKey.S, cancellationToken);
            var report = await JsonNode.ParseAsync(response.ResponseStream, cancellationToken: cancellationToken);
            foreach (var row in report?["refusedRows"]?.AsArray().Take(10) ?? [])
            {
                await output.WriteLineAsync($"  line {row!["line"]}: {string.Join(" ", row["reasons"]!.AsArray().Select(x => (string?)x))}");
            }
            await output.WriteLineAsync($"  report: s3://{bucket}/{reportKey.S}");
        }
        return status == "imported" && N(item, "refused") == "0" ? 0 : 1;
    }

    private static string N(Dictionary<string, AttributeValue> item, string name) =>
        item.TryGetValue(name, out var v) && v.N is { } n ? long.Parse(n, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture) : "0";

    private static string Bucket(StackResources resources) => resources.ImportsBucket
        ?? throw new StackNotFoundException("The stack has no imports bucket: it was deployed by a release before imports; deploy this one (docs/deploy.md).");

    private static string Table(StackResources resources) => resources.ImportsTable
        ?? throw new StackNotFoundException("The stack has no imports table: it was deployed by a release before imports; deploy this one (docs/deploy.md).");
}
