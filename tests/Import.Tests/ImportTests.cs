using System.IO.Compression;
using System.Text.Json.Nodes;
using Amazon.S3.Model;
using Pipeline.Tests;

namespace Pipeline.Import.Tests;

/// <summary>Files dropped in the imports bucket, through the local notifications, the import function and the Processor, on the real local servers.</summary>
public sealed class ImportTests
{
    private static readonly string LongAgo = DateTimeOffset.UtcNow.AddDays(-400).ToString("O");

    [Fact]
    public async Task A_plain_and_a_gzipped_file_are_stored_with_their_fields_file_and_line()
    {
        await using var h = await ImportHarness.StartAsync();
        await h.UploadAsync("uploads/history.jsonl", ImportHarness.Lines(
        [
            new { eventType = "page_view", userId = "u-1", occurredAt = LongAgo, properties = new { path = "/pricing" } },
            new { eventType = "purchase", userId = "u-2", eventId = "order-77" },
        ]));
        await h.UploadAsync("uploads/more.ndjson.gz", ImportHarness.Gzip(ImportHarness.Lines([new { eventType = "signup", anonymousId = "a-9" }])));

        var plain = await h.FinishedRecordAsync("uploads/history.jsonl");
        var gzipped = await h.FinishedRecordAsync("uploads/more.ndjson.gz");
        Assert.Equal("imported", plain["status"].S);
        Assert.Equal("imported", gzipped["status"].S);
        Assert.Equal("2", plain["accepted"].N);
        Assert.Equal("1", gzipped["accepted"].N);

        var events = await h.StoredEventsAsync(3);
        Assert.Equal(3, events.Count);
        var pageView = Assert.Single(events, e => e["eventType"].S == "page_view");
        Assert.Equal($"s3://{h.Bucket}/uploads/history.jsonl", pageView["importFile"].S);
        Assert.Equal("1", pageView["importLine"].N);
        Assert.Equal("/pricing", pageView["properties"].M["path"].S);
        Assert.StartsWith(LongAgo[..10], pageView["occurredAt"].S, StringComparison.Ordinal); // older than the Api's 30 days
        Assert.StartsWith("import:", pageView["eventId"].S, StringComparison.Ordinal);
        var purchase = Assert.Single(events, e => e["eventType"].S == "purchase");
        Assert.Equal("order-77", purchase["eventId"].S);
        Assert.Equal("2", purchase["importLine"].N);
        var signup = Assert.Single(events, e => e["eventType"].S == "signup");
        Assert.Equal($"s3://{h.Bucket}/uploads/more.ndjson.gz", signup["importFile"].S);
        Assert.Equal("1", signup["importLine"].N);

        // The archive line records the file and line too.
        var archived = new List<JsonNode>();
        foreach (var o in (await h.Aws.S3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = h.Stack["ArchiveBucket"], Prefix = "events/" })).S3Objects ?? [])
        {
            using var response = await h.Aws.S3.GetObjectAsync(h.Stack["ArchiveBucket"], o.Key);
            using var reader = new StreamReader(new GZipStream(response.ResponseStream, CompressionMode.Decompress));
            while (await reader.ReadLineAsync() is { } line)
            {
                archived.Add(JsonNode.Parse(line)!);
            }
        }
        var line2 = Assert.Single(archived, a => (string?)a["eventId"] == "order-77");
        Assert.Equal($"s3://{h.Bucket}/uploads/history.jsonl", (string?)line2["importFile"]);
        Assert.Equal(2, (long?)line2["importLine"]);

        var report = await h.ReportAsync(plain);
        Assert.Equal(2, (long?)report["rowsRead"]);
        Assert.Equal(0, (long?)report["refused"]);
    }

    [Fact]
    public async Task Bad_lines_are_reported_by_line_and_reason_and_the_good_rows_are_stored()
    {
        await using var h = await ImportHarness.StartAsync();
        await h.UploadAsync("uploads/mixed.jsonl", ImportHarness.Lines(
        [
            new { eventType = "ok", userId = "u-1" },
            "{not json",
            new { userId = "u-3" },
            "",
            new { eventType = "ancient", userId = "u-5", occurredAt = "1990-01-01T00:00:00Z" },
            new { eventType = "ok", userId = "u-6", properties = new { n = 1 } },
        ]));

        var record = await h.FinishedRecordAsync("uploads/mixed.jsonl");
        Assert.Equal("imported", record["status"].S);
        Assert.Equal("2", record["accepted"].N);
        Assert.Equal("3", record["refused"].N);
        Assert.Equal("1", record["blank"].N);
        var report = await h.ReportAsync(record);
        var refused = report["refusedRows"]!.AsArray().Select(r => ((long)r!["line"]!, string.Join(" ", r["reasons"]!.AsArray().Select(x => (string?)x)))).ToList();
        Assert.Equal([2L, 3L, 5L], refused.Select(r => r.Item1));
        Assert.Contains("not JSON", refused[0].Item2, StringComparison.Ordinal);
        Assert.Contains("'eventType' is required.", refused[1].Item2, StringComparison.Ordinal);
        Assert.Contains("older than the limit of 1825 days", refused[2].Item2, StringComparison.Ordinal);

        var events = await h.StoredEventsAsync(2);
        Assert.Equal(["1", "6"], events.Select(e => e["importLine"].N).Order());
        var alert = Assert.Single(await h.AlertsAsync(1));
        Assert.Contains("3 row(s) refused, first at line 2", alert, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_same_file_twice_and_the_same_rows_in_another_file_store_nothing_new()
    {
        await using var h = await ImportHarness.StartAsync();
        var rows = ImportHarness.Lines(
        [
            new { eventType = "click", userId = "u-1" },
            new { eventType = "click", userId = "u-1" }, // the same row twice in one file: two events
            new { eventType = "buy", userId = "u-2", eventId = "b-1" },
        ]);
        await h.UploadAsync("uploads/first.jsonl", rows);
        await h.FinishedRecordAsync("uploads/first.jsonl");
        Assert.Equal(3, (await h.StoredEventsAsync(3)).Count);

        // The notification delivered again (S3 delivers at least once): the record says it is done.
        var notification = System.Text.Json.JsonSerializer.Serialize(new
        {
            Records = new[]
            {
                new
                {
                    eventName = "ObjectCreated:Put",
                    s3 = new { bucket = new { name = h.Bucket }, @object = new { key = "uploads/first.jsonl", eTag = (await h.RecordAsync("uploads/first.jsonl"))!["etag"].S } },
                },
            },
        });
        await h.Aws.Sqs.SendMessageAsync(h.Stack.Resources["ImportQueue"].Ref, notification);
        // The same rows in another file, and the same file uploaded again under a new name by a copy.
        await h.UploadAsync("uploads/second.jsonl", rows);
        await h.Aws.S3.CopyObjectAsync(h.Bucket, "uploads/first.jsonl", h.Bucket, "uploads/copy of first+1.jsonl");

        var second = await h.FinishedRecordAsync("uploads/second.jsonl");
        var copy = await h.FinishedRecordAsync("uploads/copy of first+1.jsonl");
        Assert.Equal("imported", second["status"].S);
        Assert.Equal("imported", copy["status"].S);
        await Eventually.UntilAsync(() => h.Importer.Reports.Count >= 4, TimeSpan.FromSeconds(30));
        await Eventually.QuietAsync();
        var events = await h.EventsAsync();
        Assert.Equal(3, events.Count);
        Assert.All(events, e => Assert.Equal($"s3://{h.Bucket}/uploads/first.jsonl", e["importFile"].S));
        Assert.Equal(3, (await h.ScanAsync(h.Stack["ImportsTable"])).Count);
    }

    [Fact]
    public async Task A_binary_file_and_a_truncated_gzip_get_a_report_and_an_alert()
    {
        await using var h = await ImportHarness.StartAsync();
        var binary = new byte[4096];
        new Random(7).NextBytes(binary);
        binary[10] = 0;
        await h.UploadAsync("uploads/photo.jsonl", binary);
        var whole = ImportHarness.Gzip(ImportHarness.Lines(Enumerable.Range(1, 5000).Select(i => (object)new { eventType = "e", userId = $"u-{i}" })));
        await h.UploadAsync("uploads/cut.jsonl.gz", whole[..(whole.Length - 6)]);

        var photo = await h.FinishedRecordAsync("uploads/photo.jsonl");
        var cut = await h.FinishedRecordAsync("uploads/cut.jsonl.gz");
        Assert.Equal("unreadable", photo["status"].S);
        Assert.Contains("binary", photo["error"].S, StringComparison.Ordinal);
        Assert.Equal("unreadable", cut["status"].S);
        Assert.Contains("truncated", cut["error"].S, StringComparison.Ordinal);
        Assert.Equal("unreadable", (string?)(await h.ReportAsync(cut))["status"]);
        var alerts = await h.AlertsAsync(2);
        Assert.Contains(alerts, a => a.Contains("photo.jsonl", StringComparison.Ordinal) && a.Contains("binary", StringComparison.Ordinal));
        Assert.Contains(alerts, a => a.Contains("cut.jsonl.gz", StringComparison.Ordinal) && a.Contains("truncated", StringComparison.Ordinal));
        // What was read before the cut is not lost: every row it accepted is stored.
        var accepted = int.Parse(cut["accepted"].N, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(accepted, 4000, 5000);
    }
}
