using System.CommandLine;
using Amazon;
using Amazon.DynamoDBv2;
using Amazon.Runtime.Credentials;
using Amazon.S3;
using Amazon.SimpleSystemsManagement;
using Amazon.SQS;
using Pipeline.Cli.Commands;
using Pipeline.Local;

namespace Pipeline.Cli;

/// <summary>The AWS services a command reaches, so it takes only the options that apply to it.</summary>
[Flags]
public enum Services
{
    /// <summary>The queues (fauxqs locally).</summary>
    Sqs = 1,

    /// <summary>The archive bucket (fauxqs locally): adds <c>--bucket</c>.</summary>
    S3 = 2,

    /// <summary>The tables (DynamoDB Local).</summary>
    DynamoDb = 4,
}

/// <summary>
/// The stack a command reads or changes: the local environment by default, or a deployed stack with
/// <c>--profile</c>/<c>--region</c> (credentials from the AWS default chain, never an option), and its AWS clients.
/// </summary>
public sealed class StackTarget(ParseResult result)
{
    private StackResources? _resources;

    private static readonly Option<string> StackOption = new("--stack")
    {
        Description = "the stack the queues, tables and bucket are named after (default PIPELINE_STACK or pipeline-local)",
        HelpName = "NAME",
        DefaultValueFactory = _ => LocalEndpoints.Stack,
    };

    private static readonly Option<string?> ProfileOption = new("--profile") { Description = "a deployed stack: the AWS profile to read credentials with", HelpName = "PROFILE" };
    private static readonly Option<string?> RegionOption = new("--region") { Description = "a deployed stack: its AWS region", HelpName = "REGION" };
    private static readonly Option<string?> BucketOption = new("--bucket")
    {
        Description = "another archive bucket than the stack's own (another stack's ArchiveBucketName output)",
        HelpName = "BUCKET",
    };
    private static readonly Option<Uri?> FauxqsOption = TypedOptions.Url("--fauxqs", "fauxqs elsewhere than http://127.0.0.1:4566");
    private static readonly Option<Uri?> DynamoDbOption = TypedOptions.Url("--endpoint", "DynamoDB Local elsewhere than http://127.0.0.1:8000");
    private static readonly Option<Uri?> CloudWatchOption = TypedOptions.Url("--cloudwatch-endpoint", "a deployed stack: CloudWatch elsewhere than its region's endpoint");

    /// <summary>Adds the options of a command that reaches <paramref name="services"/> of a stack.</summary>
    public static void AddOptions(Command command, Services services, bool cloudWatch = false)
    {
        ArgumentNullException.ThrowIfNull(command);
        command.Options.Add(StackOption);
        command.Options.Add(ProfileOption);
        command.Options.Add(RegionOption);
        if (services.HasFlag(Services.S3))
        {
            command.Options.Add(BucketOption);
        }
        if (services.HasFlag(Services.Sqs) || services.HasFlag(Services.S3))
        {
            command.Options.Add(FauxqsOption);
        }
        if (services.HasFlag(Services.DynamoDb))
        {
            command.Options.Add(DynamoDbOption);
        }
        if (cloudWatch)
        {
            command.Options.Add(CloudWatchOption);
        }
    }

    /// <summary>True if <paramref name="command"/> reaches a stack (so a connection failure means it is not running).</summary>
    public static bool Reaches(Command command) => command?.Options.Contains(StackOption) == true;

    /// <summary>The stack name.</summary>
    public string Stack => result.GetValue(StackOption)!;

    /// <summary>True when the command targets AWS rather than the local environment.</summary>
    public bool Deployed => result.GetResult(ProfileOption) is not null || result.GetResult(RegionOption) is not null;

    /// <summary>
    /// The names of the stack's queues, tables and bucket: a deployed stack's from its parameter (read once), the local
    /// environment's after the stack.
    /// </summary>
    public async Task<StackResources> ResourcesAsync(CancellationToken cancellationToken)
    {
        if (_resources is null && Deployed)
        {
            using var ssm = new AmazonSimpleSystemsManagementClient(Credentials(), new AmazonSimpleSystemsManagementConfig { RegionEndpoint = Region() });
            _resources = await StackResources.ReadAsync(ssm, Stack, cancellationToken);
        }
        return _resources ??= StackResources.Local(Stack);
    }

    /// <summary>The archive bucket: <c>--bucket</c>, or the stack's own.</summary>
    public async Task<string> BucketAsync(CancellationToken cancellationToken) =>
        result.GetValue(BucketOption) ?? (await ResourcesAsync(cancellationToken)).ArchiveBucket;

    /// <summary>A DynamoDB client: DynamoDB Local or AWS.</summary>
    public AmazonDynamoDBClient DynamoDb() => Deployed
        ? new AmazonDynamoDBClient(Credentials(), new AmazonDynamoDBConfig { RegionEndpoint = Region() })
        : new AmazonDynamoDBClient(LocalEndpoints.Credentials, new AmazonDynamoDBConfig
        {
            ServiceURL = (result.GetValue(DynamoDbOption) ?? LocalEndpoints.Default.DynamoDb).ToString(),
            AuthenticationRegion = LocalEndpoints.Default.Region,
        });

    /// <summary>An SQS client: fauxqs or AWS.</summary>
    public AmazonSQSClient Sqs() => Deployed
        ? new AmazonSQSClient(Credentials(), new AmazonSQSConfig { RegionEndpoint = Region() })
        : new AmazonSQSClient(LocalEndpoints.Credentials, new AmazonSQSConfig { ServiceURL = Fauxqs, AuthenticationRegion = LocalEndpoints.Default.Region });

    /// <summary>An S3 client: fauxqs or AWS.</summary>
    public AmazonS3Client S3() => Deployed
        ? new AmazonS3Client(Credentials(), new AmazonS3Config { RegionEndpoint = Region() })
        : new AmazonS3Client(LocalEndpoints.Credentials, new AmazonS3Config { ServiceURL = Fauxqs, AuthenticationRegion = LocalEndpoints.Default.Region, ForcePathStyle = true });

    /// <summary>A CloudWatch reader for the deployed stack's region.</summary>
    public CloudWatchReader CloudWatch() => CloudWatchReader.Create(Credentials(),
        Region() ?? Amazon.Runtime.FallbackRegionFactory.GetRegionEndpoint() ?? throw new InvalidOperationException("Give --region (or set AWS_REGION)."),
        result.GetValue(CloudWatchOption));

    private string Fauxqs => (result.GetValue(FauxqsOption) ?? LocalEndpoints.Default.Fauxqs).ToString();

    private RegionEndpoint? Region() => result.GetValue(RegionOption) is { Length: > 0 } region ? RegionEndpoint.GetBySystemName(region) : null;

    private Amazon.Runtime.AWSCredentials Credentials()
    {
        if (result.GetValue(ProfileOption) is { Length: > 0 } profile)
        {
            System.Environment.SetEnvironmentVariable("AWS_PROFILE", profile); // read by the default chain
        }
        return DefaultAWSCredentialsIdentityResolver.GetCredentials();
    }
}
