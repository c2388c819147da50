using Amazon.DynamoDBv2;
using Amazon.S3;
using Amazon.SQS;
using Pipeline.Lambda;
using Pipeline.Processor;

// The clients take credentials, region and endpoint overrides from the SDK's default chain (LambdaRuntime.RunAsync).
return await LambdaRuntime.RunAsync("processor", log =>
    new ProcessorFunction(ProcessorOptions.FromEnvironment(warn: message => log.Write("WARN", message)),
        new AmazonDynamoDBClient(ProcessorFunction.DynamoDbConfig()), new AmazonS3Client(), new AmazonSQSClient(), TimeProvider.System, log).HandleAsync);
