using System.Globalization;
using System.Text;
using System.Text.Json;
using Amazon.SQS;
using Amazon.SQS.Model;
using Microsoft.Extensions.Options;
using Pipeline.Api.Hosting;
using Pipeline.Events;

namespace Pipeline.Api.Events;

/// <summary>Puts events on the SQS queue. An event counts as accepted only when SQS said so.</summary>
public sealed class EventBuffer(IAmazonSQS sqs, IOptions<QueueOptions> options, ILogger<EventBuffer> logger)
{
    /// <summary>The message attribute that carries the event type (for filtering and routing).</summary>
    public const string EventTypeAttribute = "eventType";

    // SendMessageBatch takes at most 10 entries and 256 KiB in all.
    private const int MaxEntries = 10;
    private const int MaxBatchPayload = 256 * 1024;

    /// <summary>Sends one event; false when the queue could not take it.</summary>
    public async Task<bool> SendAsync(QueuedEvent queued, CancellationToken cancellationToken)
    {
        try
        {
            await sqs.SendMessageAsync(new SendMessageRequest
            {
                QueueUrl = options.Value.Url,
                MessageBody = Serialize(queued),
                MessageAttributes = Attributes(queued),
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (IsQueueFailure(e))
        {
            logger.LogError("Could not enqueue event {EventId}: {Error}", queued.EventId, e.Message);
            return false;
        }
    }

    /// <summary>Sends events in batches of up to ten; returns which of them SQS accepted, by position.</summary>
    public async Task<bool[]> SendBatchAsync(IReadOnlyList<QueuedEvent> events, CancellationToken cancellationToken)
    {
        var accepted = new bool[events.Count];
        foreach (var chunk in Chunks(events))
        {
            try
            {
                var response = await sqs.SendMessageBatchAsync(new SendMessageBatchRequest
                {
                    QueueUrl = options.Value.Url,
                    Entries = [.. chunk.Select(c => new SendMessageBatchRequestEntry
                    {
                        Id = c.Index.ToString(CultureInfo.InvariantCulture),
                        MessageBody = c.Body,
                        MessageAttributes = Attributes(events[c.Index]),
                    })],
                }, cancellationToken).ConfigureAwait(false);
                foreach (var ok in response.Successful ?? [])
                {
                    accepted[int.Parse(ok.Id, CultureInfo.InvariantCulture)] = true;
                }
                foreach (var failed in response.Failed ?? [])
                {
                    logger.LogError("SQS refused event {EventId}: {Code} {Message}", events[int.Parse(failed.Id, CultureInfo.InvariantCulture)].EventId, failed.Code, failed.Message);
                }
            }
            catch (Exception e) when (IsQueueFailure(e))
            {
                logger.LogError("Could not enqueue a batch of {Count} events: {Error}", chunk.Count, e.Message);
            }
        }
        return accepted;
    }

    private static IEnumerable<List<(int Index, string Body)>> Chunks(IReadOnlyList<QueuedEvent> events)
    {
        var chunk = new List<(int Index, string Body)>();
        var size = 0;
        for (var i = 0; i < events.Count; i++)
        {
            var body = Serialize(events[i]);
            var bytes = Encoding.UTF8.GetByteCount(body) + 64; // + the message attribute
            if (chunk.Count == MaxEntries || (chunk.Count > 0 && size + bytes > MaxBatchPayload))
            {
                yield return chunk;
                chunk = [];
                size = 0;
            }
            chunk.Add((i, body));
            size += bytes;
        }
        if (chunk.Count > 0)
        {
            yield return chunk;
        }
    }

    private static string Serialize(QueuedEvent queued) => JsonSerializer.Serialize(queued, EventJsonContext.Default.QueuedEvent);

    private static Dictionary<string, MessageAttributeValue> Attributes(QueuedEvent queued) => new()
    {
        [EventTypeAttribute] = new MessageAttributeValue { DataType = "String", StringValue = queued.EventType },
    };

    // Anything the SDK or the network throws means "not accepted"; cancellation by the client is not a queue failure.
    private static bool IsQueueFailure(Exception e) => e is Amazon.Runtime.AmazonServiceException or Amazon.Runtime.AmazonClientException or HttpRequestException or IOException
        || (e is TaskCanceledException or TimeoutException && e is not OperationCanceledException { CancellationToken.IsCancellationRequested: true });
}
