using System.Text.Json;
using Amazon.DynamoDBv2;
using Amazon.S3;
using Pipeline.Lambda;

namespace Pipeline.Processor;

/// <summary>
/// The Lambda entry point (handler <c>Pipeline.Processor::Pipeline.Processor.ProcessorFunction::Handler</c>): reads the SQS
/// event, hands the records to <see cref="EventBatchProcessor"/>, returns the partial batch response.
/// </summary>
public sealed class ProcessorFunction
{
    private readonly EventBatchProcessor _processor;
    private readonly TimeSpan _budget;

    /// <summary>The constructor Lambda uses: settings from the environment, clients from the SDK's defaults.</summary>
    public ProcessorFunction()
        : this(ProcessorOptions.FromEnvironment(), new AmazonDynamoDBClient(), new AmazonS3Client(), TimeProvider.System, Console.Out)
    {
    }

    /// <summary>The constructor the tests and the local host use.</summary>
    public ProcessorFunction(ProcessorOptions options, IAmazonDynamoDB dynamoDb, IAmazonS3 s3, TimeProvider clock, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(options);
        _budget = options.TimeBudget;
        _processor = new EventBatchProcessor(new EventArchive(s3, options.BucketName, clock), new EventStore(dynamoDb, options.TableName, options.Retention), clock, log);
    }

    /// <summary>Processes one SQS batch.</summary>
    public async Task<Stream> Handler(Stream input)
    {
        var sqsEvent = await JsonSerializer.DeserializeAsync(input, LambdaJsonContext.Default.SqsEvent).ConfigureAwait(false)
            ?? throw new InvalidDataException("The invocation payload is not an SQS event.");
        using var budget = new CancellationTokenSource(_budget);
        var response = await _processor.ProcessAsync(sqsEvent.Records, budget.Token).ConfigureAwait(false);
        var output = new MemoryStream();
        await JsonSerializer.SerializeAsync(output, response, LambdaJsonContext.Default.SqsBatchResponse).ConfigureAwait(false);
        output.Position = 0;
        return output;
    }
}
