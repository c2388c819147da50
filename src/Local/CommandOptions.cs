using Amazon;
using Amazon.DynamoDBv2;
using Amazon.Runtime.Credentials;
using Amazon.S3;
using Amazon.SQS;
using Pipeline.Local.Environment;

namespace Pipeline.Local;

/// <summary>
/// The <c>--name value</c> options of the operator commands, and their AWS clients: the local environment by default,
/// or a deployed stack with <c>--profile</c>/<c>--region</c> (credentials from the AWS default chain, never an option).
/// </summary>
public sealed class CommandOptions
{
    private readonly Dictionary<string, string> _values = [];

    /// <summary>Parses <c>--name value</c> pairs (a flag without a value is "").</summary>
    public CommandOptions(IEnumerable<string> args)
    {
        var list = args.ToList();
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].StartsWith("--", StringComparison.Ordinal))
            {
                _values[list[i][2..]] = i + 1 < list.Count && !list[i + 1].StartsWith("--", StringComparison.Ordinal) ? list[++i] : "";
            }
        }
    }

    /// <summary>True when the command targets AWS rather than the local environment.</summary>
    public bool Deployed => Has("profile") || Has("region");

    /// <summary>True if the option was given.</summary>
    public bool Has(string name) => _values.ContainsKey(name);

    /// <summary>The option's value, or null.</summary>
    public string? this[string name] => _values.GetValueOrDefault(name);

    /// <summary>A DynamoDB client: DynamoDB Local (at <c>--endpoint</c>, default 127.0.0.1:8000) or AWS.</summary>
    public AmazonDynamoDBClient DynamoDb() => Deployed
        ? new AmazonDynamoDBClient(Credentials(), new AmazonDynamoDBConfig { RegionEndpoint = Region() })
        : new AmazonDynamoDBClient(LocalAws.Credentials, new AmazonDynamoDBConfig
        {
            ServiceURL = (this["endpoint"] is { } url ? new Uri(url) : LocalEndpoints.Default.DynamoDb).ToString(),
            AuthenticationRegion = LocalEndpoints.Default.Region,
        });

    /// <summary>An SQS client: fauxqs (at <c>--fauxqs</c>, default 127.0.0.1:4566) or AWS.</summary>
    public AmazonSQSClient Sqs() => Deployed
        ? new AmazonSQSClient(Credentials(), new AmazonSQSConfig { RegionEndpoint = Region() })
        : new AmazonSQSClient(LocalAws.Credentials, new AmazonSQSConfig { ServiceURL = Fauxqs, AuthenticationRegion = LocalEndpoints.Default.Region });

    /// <summary>An S3 client: fauxqs (at <c>--fauxqs</c>, default 127.0.0.1:4566) or AWS.</summary>
    public AmazonS3Client S3() => Deployed
        ? new AmazonS3Client(Credentials(), new AmazonS3Config { RegionEndpoint = Region() })
        : new AmazonS3Client(LocalAws.Credentials, new AmazonS3Config { ServiceURL = Fauxqs, AuthenticationRegion = LocalEndpoints.Default.Region, ForcePathStyle = true });

    private string Fauxqs => (this["fauxqs"] is { } url ? new Uri(url) : LocalEndpoints.Default.Fauxqs).ToString();

    /// <summary>A CloudWatch reader for the deployed stack's region (at <c>--cloudwatch-endpoint</c>, if given).</summary>
    public CloudWatchReader CloudWatch() => CloudWatchReader.Create(Credentials(),
        Region() ?? Amazon.Runtime.FallbackRegionFactory.GetRegionEndpoint() ?? throw new InvalidOperationException("Give --region (or set AWS_REGION)."),
        this["cloudwatch-endpoint"] is { } url ? new Uri(url) : null);

    private RegionEndpoint? Region() => this["region"] is { Length: > 0 } region ? RegionEndpoint.GetBySystemName(region) : null;

    private Amazon.Runtime.AWSCredentials Credentials()
    {
        if (this["profile"] is { Length: > 0 } profile)
        {
            System.Environment.SetEnvironmentVariable("AWS_PROFILE", profile); // read by the default chain
        }
        return DefaultAWSCredentialsIdentityResolver.GetCredentials();
    }
}
