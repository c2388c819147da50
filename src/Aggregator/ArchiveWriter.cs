using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.SQS;
using Amazon.SQS.Model;
using Pipeline.Events;
using Pipeline.Lambda;
using Pipeline.Storage;

namespace Pipeline.Aggregator;

/// <summary>
/// Writes the events the Processor stored to the S3 archive (docs/architecture.md, D10): it drains the archive queue
/// and writes one gzip JSON-lines object per receive hour, under <c>events/dt=YYYY-MM-DD/hour=HH/</c>, then deletes the
/// messages. An object is written before its messages are deleted, so a run that stops in between writes them again
/// (the archive may hold an event twice; every reader deduplicates on <c>eventId</c>).
/// </summary>
public sealed class ArchiveWriter(IAmazonSQS sqs, IAmazonS3 s3, AggregatorOptions options, FunctionLog log)
{
    /// <summary>Most events gathered before they are written (bounds the run's memory; a backlog takes several rounds).</summary>
    public const int MaxEventsPerRound = 100_000;

    /// <summary>Drains the archive queue until it is empty or the time runs out; returns how many events were archived.</summary>
    public async Task<long> DrainAsync(CancellationToken cancellationToken)
    {
        long archived = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var messages = new List<Message>();
            var byPartition = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            var events = 0;
            while (events < MaxEventsPerRound)
            {
                var page = await sqs.ReceiveMessageAsync(new ReceiveMessageRequest
                {
                    QueueUrl = options.ArchiveQueueUrl,
                    MaxNumberOfMessages = 10,
                    WaitTimeSeconds = 0,
                }, cancellationToken).ConfigureAwait(false);
                if (page.Messages is not { Count: > 0 })
                {
                    break;
                }
                foreach (var message in page.Messages)
                {
                    if (Read(message.Body) is not { } lines)
                    {
                        // Not written by a Processor: left in the queue, and after its receives in the dead-letter queue.
                        log.Write("ERROR", $"Archive message {message.MessageId} is not a batch of events; left for the dead-letter queue.");
                        continue;
                    }
                    messages.Add(message);
                    foreach (var (partition, line) in lines)
                    {
                        (byPartition.TryGetValue(partition, out var list) ? list : byPartition[partition] = []).Add(line);
                        events++;
                    }
                }
            }
            if (messages.Count == 0)
            {
                return archived;
            }
            var name = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', messages.Select(m => m.MessageId).Order(StringComparer.Ordinal)))))[..32];
            foreach (var (partition, lines) in byPartition)
            {
                await WriteAsync($"events/{partition}/{name}.jsonl.gz", lines, cancellationToken).ConfigureAwait(false);
            }
            foreach (var chunk in messages.Chunk(10))
            {
                await sqs.DeleteMessageBatchAsync(new DeleteMessageBatchRequest
                {
                    QueueUrl = options.ArchiveQueueUrl,
                    Entries = [.. chunk.Select((m, i) => new DeleteMessageBatchRequestEntry(i.ToString(System.Globalization.CultureInfo.InvariantCulture), m.ReceiptHandle))],
                }, cancellationToken).ConfigureAwait(false);
            }
            archived += events;
        }
        return archived;
    }

    // The message's events, each with the partition of its receive time; null if it is not a batch of events.
    private static List<(string Partition, string Line)>? Read(string? body)
    {
        try
        {
            using var document = JsonDocument.Parse(body ?? "");
            if (!EventBatchMessage.TryRead(document.RootElement, out var events))
            {
                return null;
            }
            var lines = new List<(string, string)>();
            foreach (var element in events.EnumerateArray())
            {
                if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty("receivedAt", out var at) || !at.TryGetDateTimeOffset(out var receivedAt))
                {
                    return null;
                }
                lines.Add((EventLayout.Partition(receivedAt), element.GetRawText()));
            }
            return lines;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private async Task WriteAsync(string key, List<string> lines, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream();
        await using (var gzip = new GZipStream(body, CompressionLevel.Optimal, leaveOpen: true))
        await using (var writer = new StreamWriter(gzip, new UTF8Encoding(false)))
        {
            foreach (var line in lines)
            {
                await writer.WriteAsync(line.AsMemory(), cancellationToken).ConfigureAwait(false);
                await writer.WriteAsync('\n').ConfigureAwait(false);
            }
        }
        body.Position = 0;
        await s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = options.BucketName,
            Key = key,
            InputStream = body,
            ContentType = "application/x-ndjson",
        }, cancellationToken).ConfigureAwait(false);
    }
}
