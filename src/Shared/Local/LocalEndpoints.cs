namespace Pipeline.Local;

/// <summary>Where the local environment (<c>src/Local</c>) listens, shared with the CLI, whose commands target it by default.</summary>
/// <param name="Fauxqs">fauxqs: SQS, SNS and S3.</param>
/// <param name="DynamoDb">DynamoDB Local.</param>
/// <param name="Region">The region every local client uses.</param>
public sealed record LocalEndpoints(Uri Fauxqs, Uri DynamoDb, string Region = "us-east-1")
{
    /// <summary>The local defaults of the README: fauxqs on 4566, DynamoDB Local on 8000.</summary>
    public static LocalEndpoints Default { get; } = At(4566, 8000);

    /// <summary>The stack the local environment provisions, and the commands target by default: PIPELINE_STACK, or <c>pipeline-local</c>.</summary>
    public static string Stack => Environment.GetEnvironmentVariable("PIPELINE_STACK") is { Length: > 0 } s ? s : DefaultStack;

    /// <summary>The local stack's name when PIPELINE_STACK does not give one.</summary>
    public const string DefaultStack = "pipeline-local";

    /// <summary>Where the local environment serves the Api (the README's contract).</summary>
    public static Uri Api { get; } = new("http://127.0.0.1:5080");

    /// <summary>The dummy credentials every local client signs with: the emulators check none.</summary>
    public static Amazon.Runtime.AWSCredentials Credentials { get; } = new Amazon.Runtime.BasicAWSCredentials("local", "local");

    /// <summary>Endpoints on 127.0.0.1 at the given ports.</summary>
    public static LocalEndpoints At(int fauxqsPort, int dynamoDbPort) =>
        new(new Uri($"http://127.0.0.1:{fauxqsPort}"), new Uri($"http://127.0.0.1:{dynamoDbPort}"));
}
