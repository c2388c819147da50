using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Amazon.S3;
using Amazon.S3.Model;
using Pipeline.Storage;

namespace Pipeline.Processor;

/// <summary>
/// The S3 archive (docs/architecture.md, D10, D11). Valid events: one gzip JSON-lines object per batch under
/// <c>events/dt=YYYY-MM-DD/hour=HH/</c>, keyed by the batch's message ids, so a retried batch rewrites the
/// same object. Records that can never succeed: one JSON object each under <c>rejected/</c>, with the reason.
/// </summary>
public sealed class EventArchive(IAmazonS3 s3, string bucketName, TimeProvider clock)
{
    /// <summary>Writes the batch's valid events; returns the object key.</summary>
    public async Task<string> WriteBatchAsync(IReadOnlyList<EventRecord> records, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        var ids = string.Join('\n', records.Select(r => r.Message.MessageId).Order(StringComparer.Ordinal));
        var name = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ids)))[..32];
        var key = $"events/{EventLayout.Partition(records.Min(r => r.Event!.ReceivedAt))}/{name}.jsonl.gz";

        using var body = new MemoryStream();
        await using (var gzip = new GZipStream(body, CompressionLevel.Optimal, leaveOpen: true))
        {
            foreach (var record in records)
            {
                await gzip.WriteAsync(Encoding.UTF8.GetBytes(record.Message.Body!.Trim() + "\n"), cancellationToken).ConfigureAwait(false);
            }
        }
        body.Position = 0;
        await s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = bucketName,
            Key = key,
            InputStream = body,
            ContentType = "application/x-ndjson",
        }, cancellationToken).ConfigureAwait(false);
        return key;
    }

    /// <summary>Writes a record that can never succeed, with its reason; returns the object key.</summary>
    public async Task<string> RejectAsync(EventRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        var now = clock.GetUtcNow();
        var key = $"rejected/{EventLayout.Partition(now)}/{record.Message.MessageId}.json";
        var rejection = new Rejection(record.Message.MessageId, record.RejectReason ?? "", now,
            record.Message.Attributes.GetValueOrDefault("ApproximateReceiveCount"), record.Message.Body);
        await s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = bucketName,
            Key = key,
            ContentBody = JsonSerializer.Serialize(rejection, ArchiveJsonContext.Default.Rejection),
            ContentType = "application/json",
        }, cancellationToken).ConfigureAwait(false);
        return key;
    }
}

/// <summary>What the archive keeps of a rejected record.</summary>
public sealed record Rejection(string MessageId, string Reason, DateTimeOffset RejectedAt, string? ReceiveCount, string? Body);

/// <summary>Source-generated JSON for the archive's own shapes.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Rejection))]
public sealed partial class ArchiveJsonContext : JsonSerializerContext;
