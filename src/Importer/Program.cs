using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Amazon.Runtime.Credentials;
using Amazon.S3;
using Amazon.SQS;
using Pipeline.Importer;
using Pipeline.Lambda;
using Pipeline.Sns;

// Built once per execution environment; the clients take credentials, region and any endpoint override
// (AWS_ENDPOINT_URL_*) from the SDK's default chain, so the same program runs on Lambda and locally.
return await LambdaRuntime.RunAsync(() =>
{
    var options = ImporterOptions.FromEnvironment();
    var log = FunctionLog.ForThisProcess("import");
    log.Write("INFO", $"Import {Pipeline.ProductVersion.Current} starting");
    var region = FallbackRegionFactory.GetRegionEndpoint()
        ?? throw new InvalidOperationException("The environment variable AWS_REGION is required.");
    var s3 = new AmazonS3Client();
    var sqs = new AmazonSQSClient();
    var records = new ImportRecords(new AmazonDynamoDBClient(), options.TableName);
    var sns = SnsClient.Create(DefaultAWSCredentialsIdentityResolver.GetCredentials(), region, SnsClient.EndpointOverride());
    var function = new ImportFunction(
        () => new ImportRun(options, s3, sqs, sns, records, new RowChecker(options.MaxAge, TimeProvider.System), TimeProvider.System, log), log);
    return function.HandleAsync;
});
