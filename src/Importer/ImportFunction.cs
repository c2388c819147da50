using System.Text.Json;
using Amazon.DynamoDBv2;
using Amazon.S3;
using Amazon.SQS;
using Pipeline.Lambda;
using Pipeline.Sns;

namespace Pipeline.Importer;

/// <summary>
/// The function: takes the import queue's SQS event (S3 notifications and the function's own continuations) and runs
/// each object's import. A message that cannot be read as either is logged and acknowledged (retrying cannot change
/// it); a failure while importing reports the message failed, so SQS delivers it again and the import resumes from its
/// record's checkpoint.
/// </summary>
public sealed class ImportFunction(Func<ImportRun> run, FunctionLog log)
{
    /// <summary>
    /// The function as deployed: settings from the environment; clients with credentials, region and endpoint overrides
    /// from the SDK's default chain, so the same program runs on Lambda and locally.
    /// </summary>
    public static ImportFunction FromEnvironment(FunctionLog log)
    {
        var options = ImporterOptions.FromEnvironment();
        var (s3, sqs, sns) = (new AmazonS3Client(), new AmazonSQSClient(), SnsClient.FromDefaultChain());
        var dynamoDb = new AmazonDynamoDBClient();
        var records = new ImportRecords(dynamoDb, options.TableName);
        return new ImportFunction(() => new ImportRun(options, s3, sqs, sns, records, dynamoDb, TimeProvider.System, log), log);
    }

    /// <summary>Handles one invocation: the SQS event in, the partial batch response out.</summary>
    public async Task<byte[]> HandleAsync(byte[] payload, LambdaContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var sqsEvent = JsonSerializer.Deserialize(payload, LambdaJsonContext.Default.SqsEvent)
            ?? throw new InvalidDataException("The invocation payload is not an SQS event.");
        log.RequestId = context.RequestId;
        var failures = new List<BatchItemFailure>();
        foreach (var message in sqsEvent.Records)
        {
            IReadOnlyList<ImportJob> jobs;
            try
            {
                jobs = ImportJob.Read(message.Body);
            }
            catch (Exception e) when (e is InvalidDataException or KeyNotFoundException or InvalidOperationException or JsonException)
            {
                log.Write("ERROR", $"Message {message.MessageId} is not an S3 notification or a continuation, and is dropped: {e.Message}");
                continue;
            }
            try
            {
                foreach (var job in jobs)
                {
                    if (!job.Key.StartsWith(ImporterOptions.UploadsPrefix, StringComparison.Ordinal))
                    {
                        log.Write("WARN", $"{job.File} is not under {ImporterOptions.UploadsPrefix}: not imported");
                        continue;
                    }
                    await run().RunAsync(job, context.Deadline, $"import-{context.RequestId}", cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                log.Write("ERROR", $"Import of message {message.MessageId} failed, to be retried from its checkpoint: {e}");
                failures.Add(new BatchItemFailure(message.MessageId));
            }
        }
        return JsonSerializer.SerializeToUtf8Bytes(new SqsBatchResponse { BatchItemFailures = failures }, LambdaJsonContext.Default.SqsBatchResponse);
    }
}
