using Amazon.SQS;
using Amazon.SQS.Model;
using Pipeline.Events;

namespace Pipeline.Processor;

/// <summary>
/// Hands the stored events to the archive (docs/architecture.md, D10): one SQS message per 64 KB of events
/// (<see cref="EventBatchMessage"/>), which the
/// Aggregator writes to S3 as large objects. A message costs the price of one request for up to 64 KB of events; an
/// S3 object per batch of ten would cost twelve times as much.
/// </summary>
public sealed class ArchiveSender(IAmazonSQS sqs, string queueUrl)
{
    /// <summary>Sends the events (their JSON texts); throws if any message was not accepted.</summary>
    public async Task SendAsync(IReadOnlyList<string> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        // Messages of up to 64 KB, three to a call: SendMessageBatch takes at most 256 KiB in all.
        foreach (var chunk in EventBatchMessage.Pack(events).Chunk(3))
        {
            var response = await sqs.SendMessageBatchAsync(new SendMessageBatchRequest
            {
                QueueUrl = queueUrl,
                Entries = [.. chunk.Select((body, i) => new SendMessageBatchRequestEntry(i.ToString(System.Globalization.CultureInfo.InvariantCulture), body))],
            }, cancellationToken).ConfigureAwait(false);
            if (response.Failed is { Count: > 0 } failed)
            {
                throw new InvalidOperationException($"The archive queue refused {failed.Count} message(s): {failed[0].Code}: {failed[0].Message}");
            }
        }
    }
}
