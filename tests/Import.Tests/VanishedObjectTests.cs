using Amazon.S3.Model;
using Pipeline.Importer;
using Pipeline.Tests;

namespace Pipeline.Import.Tests;

/// <summary>An object deleted or replaced while its import is under way ends with a report, never in retries to the DLQ.</summary>
public sealed class VanishedObjectTests
{
    [Fact]
    public async Task A_deleted_object_and_a_csv_replaced_before_its_continuation_are_unreadable_with_a_report_not_retried()
    {
        await using var h = await ImportHarness.StartAsync(processor: false);

        // A notification for an object deleted before the import read it (its uploader, or the lifecycle rule).
        await h.Aws.Sqs.SendMessageAsync(h.Stack.Resources["ImportQueue"].Ref, Notification(h.Bucket, "uploads/gone.jsonl", "0123456789abcdef"));

        // A CSV file stopped at its deadline after line 2, its object then replaced: the continuation reads the header again
        // from the object it began, by its ETag, which S3 refuses with 412.
        const string key = "uploads/replaced.csv";
        await h.UploadAsync(key, "eventType,userId\npage_view,u-1\n");
        var first = await h.FinishedRecordAsync(key);
        var old = new ImportJob(h.Bucket, key, first["etag"].S);
        await h.Aws.DynamoDb.DeleteItemAsync(h.Stack["ImportsTable"], new() { ["importId"] = new() { S = old.ImportId } });
        var records = new ImportRecords(h.Aws.DynamoDb, h.Stack["ImportsTable"]);
        var started = await records.StartAsync(old, DateTimeOffset.UtcNow, CancellationToken.None);
        Assert.True(await records.CheckpointAsync(old, 0, started with { Line = 2, Offset = 31, RowsRead = 1, Accepted = 1 }, [], DateTimeOffset.UtcNow, CancellationToken.None));
        await h.Aws.S3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = h.Bucket,
            Key = OccurrenceState.Key(old, 2),
            InputStream = new MemoryStream(OccurrenceState.Write([])),
        });
        await h.Aws.S3.PutObjectAsync(new PutObjectRequest { BucketName = h.Bucket, Key = key, ContentBody = "eventType,userId\nsignup,u-2\n" });
        await h.Aws.Sqs.SendMessageAsync(h.Stack.Resources["ImportQueue"].Ref, old.ContinuationBody(2, 31));

        var gone = await h.FinishedRecordAsync("uploads/gone.jsonl");
        Assert.Equal("unreadable", gone["status"].S);
        Assert.Contains("deleted", gone["error"].S, StringComparison.Ordinal);
        Assert.Equal("unreadable", (string?)(await h.ReportAsync(gone))["status"]);
        await Eventually.UntilAsync(async () => (await records.ReadAsync(old, CancellationToken.None))!.Status != ImportProgress.Importing, TimeSpan.FromSeconds(60));
        var replaced = (await h.ScanAsync(h.Stack["ImportsTable"])).Single(r => r["importId"].S == old.ImportId);
        Assert.Equal("unreadable", replaced["status"].S);
        Assert.Contains("replaced", replaced["error"].S, StringComparison.Ordinal);
        Assert.DoesNotContain(h.Log, l => l.Contains("\"ERROR\"", StringComparison.Ordinal) || l.Contains("Unhandled", StringComparison.Ordinal));
    }

    private static string Notification(string bucket, string key, string etag) => System.Text.Json.JsonSerializer.Serialize(new
    {
        Records = new[] { new { eventName = "ObjectCreated:Put", s3 = new { bucket = new { name = bucket }, @object = new { key, eTag = etag } } } },
    });
}
