using Amazon.DynamoDBv2;
using Amazon.S3;
using Pipeline.Lambda;
using Pipeline.Processor;

// Built once per execution environment; the clients take credentials, region and any endpoint override
// (AWS_ENDPOINT_URL_*) from the SDK's default chain, so the same program runs on Lambda and locally.
return await LambdaRuntime.RunAsync(() =>
{
    var options = ProcessorOptions.FromEnvironment();
    var log = FunctionLog.ForThisProcess("processor");
    log.Write("INFO", $"Processor {Pipeline.ProductVersion.Current} starting");
    var function = new ProcessorFunction(options, new AmazonDynamoDBClient(), new AmazonS3Client(), TimeProvider.System, log);
    return function.HandleAsync;
});
