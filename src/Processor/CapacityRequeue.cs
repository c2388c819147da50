using Amazon.SQS;
using Amazon.SQS.Model;
using Pipeline.Events;
using Pipeline.Faults;
using Pipeline.Lambda;

namespace Pipeline.Processor;

/// <summary>
/// Sends back to its queue, as a new message, the events of a message that the table's capacity left unwritten (a
/// provisioned table throttled the batch until its time ran out), so the message can be acknowledged. Reported failed
/// instead, it would come back whole, its stored events written again (a failed condition costs a write too), and after
/// five receives land in the dead-letter queue without ever having failed: a burst above the capacity would never drain.
/// A new message starts its receive count afresh; the events keep their ids and times (docs/architecture.md, D21).
/// </summary>
/// <param name="sqs">The SQS client.</param>
/// <param name="queueUrls">The URLs of the queues the Processor reads; a record's queue is found by its name in its ARN.</param>
public sealed class CapacityRequeue(IAmazonSQS sqs, IReadOnlyList<string> queueUrls)
{
    /// <summary>Sends <paramref name="events"/> (the unwritten part of <paramref name="message"/>) to its queue; false if that failed.</summary>
    public async Task<bool> SendAsync(SqsMessage message, IReadOnlyList<EventRecord> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(events);
        var name = message.EventSourceArn?.Split(':')[^1];
        var url = queueUrls.FirstOrDefault(u => name is not null && u.TrimEnd('/').EndsWith("/" + name, StringComparison.Ordinal));
        if (url is null || events.Count == 0 || events.Any(e => e.Json is null))
        {
            return false;
        }
        // A batch message goes back as a batch message of what is left; a message of one event, as it came.
        var body = events[0].Index is null ? events[0].Json! : EventBatchMessage.Pack(events.Select(e => e.Json!)).Single();
        try
        {
            // With its message attributes (a single event's eventType), as the redrive command keeps them.
            var request = new SendMessageRequest(url, body);
            if (message.MessageAttributes is { Count: > 0 } attributes)
            {
                request.MessageAttributes = attributes.ToDictionary(a => a.Key, a => new MessageAttributeValue
                {
                    DataType = a.Value.DataType,
                    StringValue = a.Value.StringValue,
                    BinaryValue = a.Value.BinaryValue is { } binary ? new MemoryStream(Convert.FromBase64String(binary)) : null,
                });
            }
            await sqs.SendMessageAsync(request, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is OperationCanceledException || AwsFaults.IsServiceFailure(e, cancellationToken))
        {
            return false; // reported failed instead: SQS redelivers the message whole
        }
    }
}
