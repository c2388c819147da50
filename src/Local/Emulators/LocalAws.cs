using Amazon;
using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.SQS;
using Pipeline.Sns;

namespace Pipeline.Local.Emulators;

/// <summary>SDK clients pointed at the local endpoints, with dummy credentials (the emulators accept any).</summary>
public sealed class LocalAws : IDisposable
{
    /// <summary>The dummy credentials of local runs; never real ones.</summary>
    public static AWSCredentials Credentials => LocalEndpoints.Credentials;

    /// <summary>
    /// Makes this process's AWS default credential chain yield the dummy credentials, so code that
    /// (rightly) uses the default chain talks to the emulators without real credentials.
    /// </summary>
    public static void UseDummyCredentialsInThisProcess(string region = "us-east-1")
    {
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", "local");
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", "local");
        Environment.SetEnvironmentVariable("AWS_SESSION_TOKEN", null);
        Environment.SetEnvironmentVariable("AWS_PROFILE", null);
        Environment.SetEnvironmentVariable("AWS_REGION", region);
    }

    /// <summary>Creates clients for <paramref name="endpoints"/>.</summary>
    public LocalAws(LocalEndpoints endpoints)
    {
        Endpoints = endpoints;
        var region = RegionEndpoint.GetBySystemName(endpoints.Region);
        Sqs = new AmazonSQSClient(Credentials, new AmazonSQSConfig { ServiceURL = endpoints.Fauxqs.ToString(), AuthenticationRegion = endpoints.Region });
        S3 = new AmazonS3Client(Credentials, new AmazonS3Config { ServiceURL = endpoints.Fauxqs.ToString(), AuthenticationRegion = endpoints.Region, ForcePathStyle = true });
        DynamoDb = new AmazonDynamoDBClient(Credentials, new AmazonDynamoDBConfig { ServiceURL = endpoints.DynamoDb.ToString(), AuthenticationRegion = endpoints.Region });
        Sns = SnsClient.Create(Credentials, region, endpoints.Fauxqs);
    }

    /// <summary>The endpoints these clients use.</summary>
    public LocalEndpoints Endpoints { get; }

    /// <summary>SQS on fauxqs.</summary>
    public IAmazonSQS Sqs { get; }

    /// <summary>S3 on fauxqs (path-style addressing).</summary>
    public IAmazonS3 S3 { get; }

    /// <summary>DynamoDB Local.</summary>
    public IAmazonDynamoDB DynamoDb { get; }

    /// <summary>SNS on fauxqs.</summary>
    public SnsClient Sns { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Sqs.Dispose();
        S3.Dispose();
        DynamoDb.Dispose();
    }
}
