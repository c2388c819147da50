using System.Text.Json;
using Amazon.SQS;
using Amazon.SQS.Model;
using Pipeline.Lambda;

namespace Pipeline.Local.EventSourceMapping;

/// <summary>How the local event source polls; the defaults are the template's.</summary>
public sealed record EventSourceOptions
{
    /// <summary>Most messages per invocation (Lambda's BatchSize).</summary>
    public int BatchSize { get; init; } = 10;

    /// <summary>How long to gather a batch before invoking with fewer (Lambda's MaximumBatchingWindowInSeconds).</summary>
    public TimeSpan BatchingWindow { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Parallel pollers (Lambda's ScalingConfig.MaximumConcurrency).</summary>
    public int Concurrency { get; init; } = 2;

    /// <summary>Long-poll wait per ReceiveMessage.</summary>
    public TimeSpan WaitTime { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// What Lambda's SQS event source mapping does, locally (docs/architecture.md, D8): long-polls the queue, gathers up to
/// a batch of messages, invokes the function with the SQS event JSON Lambda would send, deletes the messages
/// not named in <c>batchItemFailures</c>, and leaves those to reappear after the visibility timeout (and,
/// after the redrive policy's maxReceiveCount, to move to the dead-letter queue). If the invocation fails
/// (a function error, a timeout, a process that died), nothing is deleted.
/// </summary>
public sealed class SqsEventSource(IAmazonSQS sqs, string queueUrl, string queueArn, string region,
    Func<byte[], CancellationToken, Task<byte[]>> invoke, EventSourceOptions options, Action<string> log)
{
    /// <summary>
    /// Runs <see cref="EventSourceOptions.Concurrency"/> + 1 pollers, invoking at most <see cref="EventSourceOptions.Concurrency"/>
    /// at once (MaximumConcurrency), until cancelled: a batch is received while the others are processed, and deletes
    /// happen outside the invocations, as Lambda's pollers read batches ahead of its invocations (AWS Lambda Developer
    /// Guide, "Using Lambda with Amazon SQS": several batches at a time).
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var invocations = new SemaphoreSlim(options.Concurrency);
        await Task.WhenAll(Enumerable.Range(0, options.Concurrency + 1).Select(_ => Task.Run(async () =>
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    await PollOnceAsync(invocations, cancellationToken);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    // Like Lambda's pollers, this one never stops on an error: it says what happened and polls again.
                    log(Pipeline.Faults.AwsFaults.IsTransient(e, cancellationToken) || e is AmazonSQSException
                        ? $"event source: {e.Message}; retrying in 1 s"
                        : $"event source: unexpected {e.GetType().Name}: {e.Message}; retrying in 1 s");
                    await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                }
            }
        }, cancellationToken))).ConfigureAwait(false);
    }

    /// <summary>Receives one batch (waiting up to the batching window), invokes the handler, deletes what succeeded. Returns the batch size.</summary>
    public Task<int> PollOnceAsync(CancellationToken cancellationToken) => PollOnceAsync(null, cancellationToken);

    private async Task<int> PollOnceAsync(SemaphoreSlim? invocations, CancellationToken cancellationToken)
    {
        var messages = new List<Message>();
        var window = System.Diagnostics.Stopwatch.StartNew();
        do
        {
            var page = await sqs.ReceiveMessageAsync(new ReceiveMessageRequest
            {
                QueueUrl = queueUrl,
                MaxNumberOfMessages = Math.Min(10, options.BatchSize - messages.Count),
                WaitTimeSeconds = messages.Count == 0 ? (int)options.WaitTime.TotalSeconds : 0,
                MessageSystemAttributeNames = ["All"],
                MessageAttributeNames = ["All"],
            }, cancellationToken).ConfigureAwait(false);
            if (page.Messages is not { Count: > 0 })
            {
                if (messages.Count > 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                messages.AddRange(page.Messages);
            }
        }
        while (messages.Count > 0 && messages.Count < options.BatchSize && window.Elapsed < options.BatchingWindow);

        if (messages.Count == 0)
        {
            return 0;
        }

        HashSet<string> failed;
        if (invocations is not null)
        {
            await invocations.WaitAsync(CancellationToken.None).ConfigureAwait(false); // received: always invoked, never dropped
        }
        try
        {
            failed = await InvokeAsync(messages).ConfigureAwait(false);
        }
        finally
        {
            invocations?.Release();
        }
        var done = messages.Where(m => !failed.Contains(m.MessageId)).ToList();
        foreach (var chunk in done.Chunk(10))
        {
            await sqs.DeleteMessageBatchAsync(new DeleteMessageBatchRequest
            {
                QueueUrl = queueUrl,
                Entries = [.. chunk.Select((m, i) => new DeleteMessageBatchRequestEntry(i.ToString(System.Globalization.CultureInfo.InvariantCulture), m.ReceiptHandle))],
            }, CancellationToken.None).ConfigureAwait(false); // once processed, always acknowledge
        }
        return messages.Count;
    }

    private async Task<HashSet<string>> InvokeAsync(List<Message> messages)
    {
        var sqsEvent = ToLambdaEvent(messages, queueArn, region);
        try
        {
            var output = await invoke(JsonSerializer.SerializeToUtf8Bytes(sqsEvent, LambdaJsonContext.Default.SqsEvent), CancellationToken.None).ConfigureAwait(false);
            var response = JsonSerializer.Deserialize(output, LambdaJsonContext.Default.SqsBatchResponse);
            return [.. (response?.BatchItemFailures ?? []).Select(f => f.ItemIdentifier)];
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // As on Lambda: a function error fails the whole batch.
            log($"invocation failed; the batch of {messages.Count} will be redelivered: {e.Message}");
            return [.. messages.Select(m => m.MessageId)];
        }
    }

    /// <summary>The SQS event Lambda would deliver for these messages.</summary>
    public static SqsEvent ToLambdaEvent(IEnumerable<Message> messages, string queueArn, string region) => new()
    {
        Records = [.. messages.Select(m => new SqsMessage
        {
            MessageId = m.MessageId,
            ReceiptHandle = m.ReceiptHandle,
            Body = m.Body,
            Attributes = m.Attributes ?? [],
            MessageAttributes = (m.MessageAttributes ?? []).ToDictionary(a => a.Key, a => new SqsMessageAttributeValue
            {
                StringValue = a.Value.StringValue,
                BinaryValue = a.Value.BinaryValue is { } binary ? Convert.ToBase64String(binary.ToArray()) : null,
                DataType = a.Value.DataType,
            }),
            Md5OfBody = m.MD5OfBody,
            EventSource = "aws:sqs",
            EventSourceArn = queueArn,
            AwsRegion = region,
        })],
    };
}
