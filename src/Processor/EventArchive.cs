using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Amazon.S3;
using Amazon.S3.Model;
using Pipeline.Events;
using Pipeline.Storage;

namespace Pipeline.Processor;

/// <summary>
/// The Processor's writes to the S3 archive (docs/architecture.md, D10, D11). Stored events: a gzip JSON-lines object
/// per batch and receive hour, under <c>events/dt=YYYY-MM-DD/hour=HH/</c>, named from the batch's message ids, its
/// lines in a fixed order, so a redelivered batch writes the same key with the same bytes; and a marker under
/// <c>late/</c> when the hour's windows may already be past the Aggregator's look-back. Records that can never
/// succeed: one JSON object each under <c>rejected/</c>, with the reason.
/// </summary>
/// <param name="s3">The S3 client.</param>
/// <param name="bucketName">The archive bucket.</param>
/// <param name="lookback">How long after a window ends the Aggregator still counts it again (<c>Summaries__LookbackMinutes</c>).</param>
/// <param name="clock">The clock that dates rejections.</param>
public sealed class EventArchive(IAmazonS3 s3, string bucketName, TimeSpan lookback, TimeProvider clock)
{
    /// <summary>
    /// Writes the events of a batch (<paramref name="batchMessageIds"/>: every message id of the invocation) and, for an
    /// hour that may be past its look-back when the write lands (by <paramref name="deadline"/>), its late marker.
    /// Returns how many late markers were written. Throws if any write failed: the caller retries the records.
    /// </summary>
    public async Task<int> WriteAsync(IReadOnlyList<QueuedEvent> events, IEnumerable<string> batchMessageIds, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(batchMessageIds);
        if (events.Count == 0)
        {
            return 0;
        }
        var name = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', batchMessageIds.Distinct().Order(StringComparer.Ordinal)))))[..32];
        // Usually one hour; the hours of a batch that spans several are written at once.
        var written = await Task.WhenAll(events.GroupBy(e => EventLayout.Hour(e.ReceivedAt)).Select(hour => WriteHourAsync(hour, name, deadline, cancellationToken))).ConfigureAwait(false);
        return written.Count(late => late);
    }

    // Writes an hour's object; returns true if it also wrote the hour's late marker.
    private async Task<bool> WriteHourAsync(IGrouping<DateTimeOffset, QueuedEvent> hour, string name, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        await PutAsync($"{EventLayout.EventsPrefix(hour.Key)}{name}.jsonl.gz", Gzip(hour), "application/x-ndjson", cancellationToken).ConfigureAwait(false);
        // A window is counted again by every Aggregator run up to the first that starts after its end + settle +
        // look-back; the window of an event ends after the event, so a write that lands before receivedAt + look-back
        // is always counted. A later one is announced, after the object it announces (D10).
        if (deadline < hour.Min(e => e.ReceivedAt) + lookback)
        {
            return false;
        }
        await PutAsync($"{EventLayout.LateRoot}{EventLayout.Partition(hour.Key)}/{name}", [], "application/octet-stream", cancellationToken).ConfigureAwait(false);
        return true;
    }

    // One line per event, ordered by id and then text (SQS does not keep record order), gzip'd: the same events give the same bytes.
    private static byte[] Gzip(IEnumerable<QueuedEvent> events)
    {
        var lines = events.Select(e => (e.EventId, Line: ArchiveLine.Serialize(e)))
            .OrderBy(l => l.EventId, StringComparer.Ordinal).ThenBy(l => l.Line, ByteOrder.Instance);
        using var body = new MemoryStream();
        using (var gzip = new GZipStream(body, CompressionLevel.Fastest, leaveOpen: true))
        {
            foreach (var (_, line) in lines)
            {
                gzip.Write(line);
                gzip.WriteByte((byte)'\n');
            }
        }
        return body.ToArray();
    }

    private async Task PutAsync(string key, byte[] body, string contentType, CancellationToken cancellationToken)
    {
        using var stream = new MemoryStream(body, writable: false);
        await s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = bucketName,
            Key = key,
            InputStream = stream,
            ContentType = contentType,
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes a record that can never succeed, with its reason; returns the object key.</summary>
    public async Task<string> RejectAsync(EventRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        var now = clock.GetUtcNow();
        var key = $"{EventLayout.RejectedRoot}{EventLayout.Partition(now)}/{record.Message.MessageId}{(record.Index is { } i ? $"-{i}" : "")}.json";
        var rejection = new Rejection(record.Message.MessageId, record.RejectReason ?? "", now,
            record.Message.Attributes.GetValueOrDefault("ApproximateReceiveCount"), record.Json ?? record.Message.Body, record.Index);
        await s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = bucketName,
            Key = key,
            ContentBody = JsonSerializer.Serialize(rejection, RejectionJsonContext.Default.Rejection),
            ContentType = "application/json",
        }, cancellationToken).ConfigureAwait(false);
        return key;
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}

/// <summary>What the archive keeps of a rejected record: the record's body, or for one event of a batch message, that event and its position.</summary>
public sealed record Rejection(string MessageId, string Reason, DateTimeOffset RejectedAt, string? ReceiveCount, string? Body, int? Index = null);

/// <summary>Source-generated JSON for rejections.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Rejection))]
public sealed partial class RejectionJsonContext : JsonSerializerContext;
