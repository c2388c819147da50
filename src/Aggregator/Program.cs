using Amazon.DynamoDBv2;
using Amazon.S3;
using Amazon.SQS;
using Pipeline.Aggregator;
using Pipeline.Archive;
using Pipeline.Lambda;
using Pipeline.Sns;

// Built once per execution environment; credentials, region and any endpoint override (AWS_ENDPOINT_URL_*)
// come from the SDK's default chain, so the same program runs on Lambda and locally. The settings are checked at
// start (a bad one is an init error naming it); the clients, and DuckDB, are made by the first invocation, a scheduled
// run that has minutes to spare, so the process asks for it sooner (bench/results/coldstart.md). The GC heap gets what
// DuckDB's memory limit and the native reserve leave of MemorySize.
return await LambdaRuntime.RunAsync("aggregator", log =>
{
    var options = AggregatorOptions.FromEnvironment();
    _ = SnsClient.DefaultRegion(); // a setting too: checked now, though the clients that need it are made later
    var function = new Lazy<AggregatorFunction>(() => new AggregatorFunction(
        options, new AmazonDynamoDBClient(), new AmazonS3Client(), new AmazonSQSClient(), SnsClient.FromDefaultChain(), TimeProvider.System, log));
    return (payload, context, cancellationToken) => function.Value.HandleAsync(payload, context, cancellationToken);
}, nativeMegabytes: DuckDbLimits.FromEnvironment().MemoryLimitMegabytes + DuckDbLimits.ProcessReserveMegabytes);
