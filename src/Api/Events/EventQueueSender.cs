using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Amazon.SQS;
using Amazon.SQS.Model;
using Microsoft.Extensions.Options;
using Pipeline.Api.Hosting;
using Pipeline.Events;
using Pipeline.Faults;

namespace Pipeline.Api.Events;

/// <summary>
/// Puts events on the SQS queue. An event counts as accepted only when SQS said so.
/// Single events sent concurrently are coalesced into SendMessageBatch calls of up to ten: a sender takes
/// whatever is waiting when it is free, so a lone request is sent at once and a busy server makes a tenth of
/// the calls. (The .NET SDK has no buffered SQS client like the Java SDK's AmazonSQSBufferedAsyncClient,
/// hence this.) On Lambda, which gives each environment one request at a time, every batch holds one event.
/// A batch request's events travel many to a message (<see cref="EventBatchMessage"/>, docs/architecture.md, D10).
/// </summary>
public sealed class EventQueueSender : IAsyncDisposable
{
    /// <summary>The message attribute that carries the event type (for filtering and routing).</summary>
    public const string EventTypeAttribute = "eventType";

    // SendMessageBatch takes at most 10 entries and 256 KiB in all.
    private const int MaxEntries = 10;
    private const int MaxBatchPayload = 256 * 1024;
    private const int Senders = 4;

    private readonly IAmazonSQS _sqs;
    private readonly IOptions<QueueOptions> _options;
    private readonly ILogger<EventQueueSender> _logger;
    private readonly Channel<Pending> _waiting = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleWriter = false });
    private readonly Task[] _senders;

    /// <summary>Creates the sender and starts its workers.</summary>
    public EventQueueSender(IAmazonSQS sqs, IOptions<QueueOptions> options, ILogger<EventQueueSender> logger)
    {
        _sqs = sqs;
        _options = options;
        _logger = logger;
        // The senders serve every request: they must not keep the log scope of the request that created them.
        using (ExecutionContext.SuppressFlow())
        {
            _senders = [.. Enumerable.Range(0, Senders).Select(_ => Task.Run(SendWaitingAsync))];
        }
    }

    /// <summary>Sends one event; false when the queue could not take it.</summary>
    public async Task<bool> SendAsync(QueuedEvent queued, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queued);
        var pending = new Pending(Serialize(queued), queued.EventType, queued.RequestId);
        await _waiting.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
        return await pending.Result.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// Sends events many to a message, as many as fit 64 KB (SQS bills each 64 KB of a request as one request, and the
    /// Processor's batch of ten messages then carries far more than ten events); returns which SQS accepted, by position.
    /// </summary>
    public async Task<bool[]> SendBatchAsync(IReadOnlyList<QueuedEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        var messages = new List<(int Start, int Count, Pending Message)>();
        var start = 0;
        foreach (var (body, count) in EventBatchMessage.PackRanges(events.Select(Serialize)))
        {
            messages.Add((start, count, new Pending(body, null, string.Join(' ', events.Skip(start).Take(count).Select(e => e.RequestId).Distinct()))));
            start += count;
        }
        var pending = messages.Select(m => m.Message).ToList();
        var chunks = new List<(int First, List<Pending> Items)>();
        for (var first = 0; first < pending.Count;)
        {
            var count = ChunkLength(pending, first, pending.Count - first);
            chunks.Add((first, pending.GetRange(first, count)));
            first += count;
        }
        var results = await Task.WhenAll(chunks.Select(c => SendChunkAsync(c.Items, cancellationToken))).ConfigureAwait(false);
        var accepted = new bool[events.Count];
        for (var i = 0; i < chunks.Count; i++)
        {
            for (var j = 0; j < results[i].Length; j++)
            {
                var (first, count, _) = messages[chunks[i].First + j];
                Array.Fill(accepted, results[i][j], first, count);
            }
        }
        return accepted;
    }

    private async Task SendWaitingAsync()
    {
        var reader = _waiting.Reader;
        // Read, then decide: an item that does not fit this batch opens the next one. (Peeking first races with the
        // other senders: the item read may not be the one whose size was checked.)
        Pending? carried = null;
        while (carried is not null || await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            var batch = new List<Pending>(MaxEntries);
            var size = 0;
            if (carried is not null)
            {
                batch.Add(carried);
                size = carried.Size;
                carried = null;
            }
            while (batch.Count < MaxEntries && reader.TryRead(out var next))
            {
                if (batch.Count > 0 && size + next.Size > MaxBatchPayload)
                {
                    carried = next;
                    break;
                }
                batch.Add(next);
                size += next.Size;
            }
            if (batch.Count == 0)
            {
                continue;
            }
            try
            {
                var results = await SendChunkAsync(batch, CancellationToken.None).ConfigureAwait(false);
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Result.TrySetResult(results[i]);
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Whatever went wrong, the waiting requests get an answer (503) and this sender lives on.
                _logger.LogError(e, "Could not enqueue {Count} events of requests {RequestIds}", batch.Count, string.Join(' ', batch.Select(p => p.RequestIds).Distinct()));
                batch.ForEach(p => p.Result.TrySetResult(false));
            }
        }
    }

    private async Task<bool[]> SendChunkAsync(IReadOnlyList<Pending> chunk, CancellationToken cancellationToken)
    {
        var accepted = new bool[chunk.Count];
        try
        {
            var response = await _sqs.SendMessageBatchAsync(new SendMessageBatchRequest
            {
                QueueUrl = _options.Value.Url,
                Entries = [.. chunk.Select((p, i) => new SendMessageBatchRequestEntry
                {
                    Id = i.ToString(CultureInfo.InvariantCulture),
                    MessageBody = p.Body,
                    // A message of several events has several types: only a single event's is an attribute.
                    MessageAttributes = p.EventType is { } type
                        ? new() { [EventTypeAttribute] = new MessageAttributeValue { DataType = "String", StringValue = type } }
                        : null,
                })],
            }, cancellationToken).ConfigureAwait(false);
            foreach (var ok in response.Successful ?? [])
            {
                accepted[int.Parse(ok.Id, CultureInfo.InvariantCulture)] = true;
            }
            foreach (var failed in response.Failed ?? [])
            {
                var refused = chunk[int.Parse(failed.Id, CultureInfo.InvariantCulture)];
                _logger.LogError("SQS refused a message of requests {RequestIds}: {Code} {Message}", refused.RequestIds, failed.Code, failed.Message);
            }
        }
        catch (Exception e) when (AwsFaults.IsServiceFailure(e, cancellationToken))
        {
            _logger.LogError("Could not enqueue {Count} events of requests {RequestIds}: {Error}",
                chunk.Count, string.Join(' ', chunk.Select(p => p.RequestIds).Distinct()), e.Message);
        }
        return accepted;
    }

    // How many of the items from start fit one SendMessageBatch call.
    private static int ChunkLength(List<Pending> items, int start, int available)
    {
        var size = 0;
        var count = 0;
        while (count < Math.Min(MaxEntries, available) && (count == 0 || size + items[start + count].Size <= MaxBatchPayload))
        {
            size += items[start + count].Size;
            count++;
        }
        return count;
    }

    private static string Serialize(QueuedEvent queued) => JsonSerializer.Serialize(queued, EventJsonContext.Default.QueuedEvent);


    /// <summary>Stops the senders after they have sent what is waiting.</summary>
    public async ValueTask DisposeAsync()
    {
        _waiting.Writer.TryComplete();
        await Task.WhenAll(_senders).ConfigureAwait(false);
    }

    // A message: one event's JSON (with its type, for the message attribute) or a batch message of several events.
    private sealed record Pending(string Body, string? EventType, string RequestIds)
    {
        // The body plus an allowance for the message attribute.
        public int Size { get; } = Encoding.UTF8.GetByteCount(Body) + 64;

        public TaskCompletionSource<bool> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
