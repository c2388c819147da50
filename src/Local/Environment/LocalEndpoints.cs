namespace Pipeline.Local.Environment;

/// <summary>Where the local stand-ins for AWS listen.</summary>
/// <param name="Fauxqs">fauxqs: SQS, SNS and S3.</param>
/// <param name="DynamoDb">DynamoDB Local.</param>
/// <param name="Region">The region every local client uses.</param>
public sealed record LocalEndpoints(Uri Fauxqs, Uri DynamoDb, string Region = "us-east-1")
{
    /// <summary>The local defaults of the README: fauxqs on 4566, DynamoDB Local on 8000.</summary>
    public static LocalEndpoints Default { get; } = At(4566, 8000);

    /// <summary>Endpoints on 127.0.0.1 at the given ports.</summary>
    public static LocalEndpoints At(int fauxqsPort, int dynamoDbPort) =>
        new(new Uri($"http://127.0.0.1:{fauxqsPort}"), new Uri($"http://127.0.0.1:{dynamoDbPort}"));
}
