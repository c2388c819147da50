using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Amazon.Runtime.Credentials;
using Amazon.S3;
using Amazon.SQS;
using Pipeline.Aggregator;
using Pipeline.Lambda;
using Pipeline.Sns;

// Built once per execution environment; credentials, region and any endpoint override (AWS_ENDPOINT_URL_*)
// come from the SDK's default chain, so the same program runs on Lambda and locally.
return await LambdaRuntime.RunAsync(() =>
{
    var options = AggregatorOptions.FromEnvironment();
    var region = FallbackRegionFactory.GetRegionEndpoint()
        ?? throw new InvalidOperationException("The environment variable AWS_REGION is required.");
    var sns = SnsClient.Create(DefaultAWSCredentialsIdentityResolver.GetCredentials(), region, SnsClient.EndpointOverride());
    var function = new AggregatorFunction(options, new AmazonDynamoDBClient(), new AmazonS3Client(), new AmazonSQSClient(), sns,
        TimeProvider.System, FunctionLog.ForThisProcess("aggregator"));
    return function.HandleAsync;
});
