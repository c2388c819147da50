using System.Text.Json;
using Amazon.DynamoDBv2;
using Amazon.S3;
using Amazon.SQS;
using Pipeline.Lambda;

namespace Pipeline.Processor;

/// <summary>
/// The function: reads the SQS event Lambda delivers, hands the records to <see cref="EventBatchProcessor"/> with a time
/// budget that ends before the invocation's deadline, and returns the partial batch response. <c>Program.cs</c> builds
/// it once per process and serves it through the Lambda Runtime API.
/// </summary>
public sealed class ProcessorFunction(ProcessorOptions options, IAmazonDynamoDB dynamoDb, IAmazonS3 s3, IAmazonSQS sqs, TimeProvider clock, FunctionLog log)
{
    private readonly EventBatchProcessor _processor = new(
        new EventArchive(s3, options.BucketName, options.Lookback, clock),
        new EventStore(dynamoDb, options.TableName, options.Retention), new CapacityRequeue(sqs, options.QueueUrls), clock, log,
        options.ImportWriteRatePerInvocation);

    /// <summary>
    /// The DynamoDB client's settings: no retries of its own. <see cref="EventStore"/> retries every transient error itself,
    /// with its backoff, until the time budget ends, and must see each throttling answer to know the table's capacity ran out
    /// (<see cref="CapacityRequeue"/>); the SDK's retries would hide it until the budget cancels them.
    /// </summary>
    public static AmazonDynamoDBConfig DynamoDbConfig() => new() { MaxErrorRetry = 0 };

    /// <summary>How long before the deadline retries stop, so the answer (and the metrics) go out in time: 2 s, or a quarter of a shorter invocation.</summary>
    public static TimeSpan Reserve(TimeSpan remaining) =>
        remaining <= TimeSpan.Zero ? TimeSpan.Zero : TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(2).Ticks, remaining.Ticks / 4));

    private static TimeSpan NotNegative(TimeSpan span) => span < TimeSpan.Zero ? TimeSpan.Zero : span;

    /// <summary>Handles one invocation: the SQS event in, the partial batch response out.</summary>
    public async Task<byte[]> HandleAsync(byte[] payload, LambdaContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var sqsEvent = JsonSerializer.Deserialize(payload, LambdaJsonContext.Default.SqsEvent)
            ?? throw new InvalidDataException("The invocation payload is not an SQS event.");
        log.RequestId = context.RequestId;
        // The writes stop first, so what was stored can still be written to the archive before the answer is due.
        // A deadline already passed (a slow start, a skewed clock) leaves no budget: every record is reported, none lost.
        var remaining = context.Deadline - clock.GetUtcNow();
        var finish = NotNegative(remaining - Reserve(remaining));
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfterOrNow(finish);
        using var writes = CancellationTokenSource.CreateLinkedTokenSource(budget.Token);
        writes.CancelAfterOrNow(finish - Reserve(finish));
        var response = await _processor.ProcessAsync(sqsEvent.Records, context.Deadline, writes.Token, budget.Token).ConfigureAwait(false);
        return JsonSerializer.SerializeToUtf8Bytes(response, LambdaJsonContext.Default.SqsBatchResponse);
    }
}
