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
/// per batch and receive hour, under <c>events/dt=YYYY-MM-DD/hour=HH/</c>, named from its content (its lines in a fixed
/// order), so a key always holds the same bytes: a redelivery that stores the same events writes the same object, and
/// one that stores more writes a new one beside it; and a marker under <c>late/</c>, named as its object, when the
/// hour's windows may already be past the Aggregator's look-back. Records that can never succeed: one JSON object each
/// under <c>rejected/</c>, with the reason. Every PUT is conditional (<c>If-None-Match: *</c>): nothing is overwritten.
/// </summary>
/// <param name="s3">The S3 client.</param>
/// <param name="bucketName">The archive bucket.</param>
/// <param name="lookback">How long after a window ends the Aggregator still counts it again (<c>Summaries__LookbackMinutes</c>).</param>
/// <param name="clock">The clock that dates rejections.</param>
public sealed class EventArchive(IAmazonS3 s3, string bucketName, TimeSpan lookback, TimeProvider clock)
{
    /// <summary>
    /// Writes the events of a batch and, for an hour that may be past its look-back when the write lands (by
    /// <paramref name="deadline"/>), its late marker. Returns how many late markers were written. Throws if any write
    /// failed: the caller retries the records.
    /// </summary>
    public async Task<int> WriteAsync(IReadOnlyList<QueuedEvent> events, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        // Usually one hour; the hours of a batch that spans several are written at once.
        var hours = events.GroupBy(e => EventLayout.Hour(e.ReceivedAt));
        var written = await Task.WhenAll(hours.Select(hour => WriteHourAsync(hour, deadline, cancellationToken))).ConfigureAwait(false);
        return written.Count(late => late);
    }

    /// <summary>The name of the object that holds <paramref name="lines"/>: 32 hex digits of SHA-256 over them, so a name determines its content.</summary>
    public static string ObjectName(IEnumerable<byte[]> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var line in lines)
        {
            hash.AppendData(line);
            hash.AppendData("\n"u8);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..32];
    }

    // Writes an hour's object; returns true if it also wrote the hour's late marker.
    private async Task<bool> WriteHourAsync(IGrouping<DateTimeOffset, QueuedEvent> hour, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        var lines = Lines(hour);
        var name = ObjectName(lines);
        await PutAsync($"{EventLayout.EventsPrefix(hour.Key)}{name}.jsonl.gz", Gzip(lines), "application/x-ndjson", cancellationToken).ConfigureAwait(false);
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

    // One line per event, ordered by id and then text (SQS does not keep record order): the same events give the same lines.
    private static List<byte[]> Lines(IEnumerable<QueuedEvent> events) =>
        [.. events.Select(e => (e.EventId, Line: ArchiveLine.Serialize(e)))
            .OrderBy(l => l.EventId, StringComparer.Ordinal).ThenBy(l => l.Line, ByteOrder.Instance).Select(l => l.Line)];

    private static byte[] Gzip(List<byte[]> lines)
    {
        using var body = new MemoryStream();
        using (var gzip = new GZipStream(body, CompressionLevel.Fastest, leaveOpen: true))
        {
            foreach (var line in lines)
            {
                gzip.Write(line);
                gzip.WriteByte((byte)'\n');
            }
        }
        return body.ToArray();
    }

    // A PUT that never overwrites: S3 answers 412 if the key exists, which here means it holds these bytes already (an
    // object or marker is named from its content) or an earlier rejection of the same record: both are done.
    private async Task PutAsync(string key, byte[] body, string contentType, CancellationToken cancellationToken)
    {
        using var stream = new MemoryStream(body, writable: false);
        try
        {
            await s3.PutObjectAsync(new PutObjectRequest
            {
                BucketName = bucketName,
                Key = key,
                InputStream = stream,
                ContentType = contentType,
                IfNoneMatch = "*",
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.PreconditionFailed)
        {
            // Already written.
        }
    }

    /// <summary>Writes a record that can never succeed, with its reason; returns the object key.</summary>
    public async Task<string> RejectAsync(EventRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        var now = clock.GetUtcNow();
        // SQS gives every delivery of a message the same SentTimestamp. A record without one (not from SQS) is keyed by the
        // hour it is rejected in, with no time in its name: counted by when it was written, as keys were before.
        var key = long.TryParse(record.Message.Attributes.GetValueOrDefault("SentTimestamp"), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out var ms)
            ? EventLayout.RejectedKey(DateTimeOffset.FromUnixTimeMilliseconds(ms), record.Message.MessageId, record.Index)
            : $"{EventLayout.RejectedRoot}{EventLayout.Partition(now)}/{record.Message.MessageId}{(record.Index is { } i ? $"-{i}" : "")}.json";
        var rejection = new Rejection(record.Message.MessageId, record.RejectReason ?? "", now,
            record.Message.Attributes.GetValueOrDefault("ApproximateReceiveCount"), record.Json ?? record.Message.Body, record.Index);
        await PutAsync(key, JsonSerializer.SerializeToUtf8Bytes(rejection, RejectionJsonContext.Default.Rejection), "application/json", cancellationToken).ConfigureAwait(false);
        // A rejection counts in the window its message was sent in; one written past that window's look-back is announced
        // with a late marker, as a late event is, so the window is counted again.
        if (EventLayout.RejectedSent(key) is { } sent && now >= sent + lookback)
        {
            await PutAsync($"{EventLayout.LateRoot}{EventLayout.Partition(sent)}/rejected-{EventArchive.ObjectName([System.Text.Encoding.UTF8.GetBytes(key)])}", [],
                "application/octet-stream", cancellationToken).ConfigureAwait(false);
        }
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
