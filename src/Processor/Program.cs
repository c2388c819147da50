using Amazon.DynamoDBv2;
using Amazon.S3;
using Pipeline.Lambda;
using Pipeline.Processor;

// The clients take credentials, region and endpoint overrides from the SDK's default chain (LambdaRuntime.RunAsync).
return await LambdaRuntime.RunAsync("processor", log =>
    new ProcessorFunction(ProcessorOptions.FromEnvironment(), new AmazonDynamoDBClient(), new AmazonS3Client(), TimeProvider.System, log).HandleAsync);
