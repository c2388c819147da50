using System.Text.Json;
using System.Text.Json.Serialization;
using Amazon.S3;
using Amazon.S3.Model;
using Pipeline.Storage;

namespace Pipeline.Processor;

/// <summary>
/// The S3 archive's <c>rejected/</c> side (docs/architecture.md, D11): a record that can never succeed, one JSON object
/// each, with the reason. Stored events reach the archive through the archive queue and the Aggregator (D10).
/// </summary>
public sealed class EventArchive(IAmazonS3 s3, string bucketName, TimeProvider clock)
{
    /// <summary>Writes a record that can never succeed, with its reason; returns the object key.</summary>
    public async Task<string> RejectAsync(EventRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        var now = clock.GetUtcNow();
        var key = $"rejected/{EventLayout.Partition(now)}/{record.Message.MessageId}{(record.Index is { } i ? $"-{i}" : "")}.json";
        var rejection = new Rejection(record.Message.MessageId, record.RejectReason ?? "", now,
            record.Message.Attributes.GetValueOrDefault("ApproximateReceiveCount"), record.Json ?? record.Message.Body, record.Index);
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

/// <summary>What the archive keeps of a rejected record: the record's body, or for one event of a batch message, that event and its position.</summary>
public sealed record Rejection(string MessageId, string Reason, DateTimeOffset RejectedAt, string? ReceiveCount, string? Body, int? Index = null);

/// <summary>Source-generated JSON for the archive's own shapes.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Rejection))]
public sealed partial class ArchiveJsonContext : JsonSerializerContext;
