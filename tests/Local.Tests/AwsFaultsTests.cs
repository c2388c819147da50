using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.SQS;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Pipeline.Faults;
using Pipeline.Local.Emulators;
using Pipeline.Sns;
using Pipeline.Tests;

namespace Pipeline.Local.Tests;

/// <summary>
/// The one fault classifier, fed the exceptions the real clients throw: from the emulators (validation, a missing queue
/// or bucket), from the network (refused, timed out), and from a server answering as AWS does when it throttles or fails
/// (the wire format of each service's errors, parsed by the SDK itself).
/// </summary>
public sealed class AwsFaultsTests
{
    private const string ClosedPort = "http://127.0.0.1:9/";

    [Fact]
    public async Task A_validation_error_a_missing_queue_and_a_missing_bucket_are_permanent()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);

        var validation = await Caught(() => aws.DynamoDb.PutItemAsync(stack["EventsTable"], new() { ["eventId"] = new("x"), ["n"] = new() { N = "1e126" } }));
        var missingQueue = await Caught(() => aws.Sqs.SendMessageAsync(aws.Endpoints.Fauxqs + "000000000000/no-such-queue", "x"));
        var missingBucket = await Caught(() => aws.S3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = "no-such-bucket", Key = "k", ContentBody = "x" }));

        Assert.IsType<AmazonDynamoDBException>(validation, exactMatch: false);
        Assert.False(AwsFaults.IsTransient(validation));
        Assert.False(AwsFaults.IsTransient(missingQueue));
        Assert.False(AwsFaults.IsTransient(missingBucket));
    }

    [Fact]
    public async Task A_refused_connection_and_a_client_time_out_are_transient_and_our_own_cancellation_is_not()
    {
        using var refusedClient = DynamoDb(ClosedPort);
        await using var slow = new TcpProxy((await TestEnvironment.GetEmulatorsAsync()).Endpoints.DynamoDb) { Delay = TimeSpan.FromSeconds(5) };
        using var slowClient = DynamoDb(slow.Address.ToString(), TimeSpan.FromMilliseconds(300));
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        var refused = await Caught(() => refusedClient.ListTablesAsync());
        var timedOut = await Caught(() => slowClient.ListTablesAsync());
        var ours = await Caught(() => slowClient.ListTablesAsync(cancelled.Token));

        Assert.True(AwsFaults.IsTransient(refused), refused.ToString());
        Assert.True(AwsFaults.IsTransient(timedOut), timedOut.ToString());
        Assert.False(AwsFaults.IsTransient(ours, cancelled.Token));
    }

    [Theory]
    [InlineData(400, """{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate exceeded"}""", true, true)]
    [InlineData(400, """{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}""", true, true)]
    [InlineData(500, """{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal error"}""", true, false)]
    [InlineData(503, """{"__type":"com.amazon.coral.availability#ServiceUnavailableException","message":"Unavailable"}""", true, false)]
    [InlineData(400, """{"__type":"com.amazon.coral.validate#ValidationException","message":"bad"}""", false, false)]
    [InlineData(400, """{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no table"}""", false, false)]
    [InlineData(400, """{"__type":"com.amazon.coral.service#AccessDeniedException","message":"no"}""", false, false)]
    [InlineData(400, """{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"failed"}""", false, false)]
    public async Task DynamoDB_throttling_and_server_errors_are_transient_and_its_client_errors_are_not(int status, string body, bool transient, bool throttling)
    {
        await using var server = await AwsLikeServer.StartAsync(status, "application/x-amz-json-1.0", body);
        using var client = DynamoDb(server.Url);

        var error = await Caught(() => client.ListTablesAsync());

        Assert.IsType<AmazonDynamoDBException>(error, exactMatch: false);
        Assert.Equal(transient, AwsFaults.IsTransient(error));
        Assert.Equal(throttling, AwsFaults.IsThrottling(error)); // a capacity exceeded (docs/architecture.md, D21), not a fault
    }

    [Theory]
    [InlineData(400, """{"__type":"com.amazonaws.sqs#RequestThrottled","message":"Rate exceeded"}""", true)]
    [InlineData(500, """{"__type":"com.amazonaws.sqs#InternalError","message":"oops"}""", true)]
    [InlineData(400, """{"__type":"com.amazonaws.sqs#InvalidParameterValue","message":"bad"}""", false)]
    public async Task SQS_throttling_and_server_errors_are_transient_and_its_client_errors_are_not(int status, string body, bool transient)
    {
        await using var server = await AwsLikeServer.StartAsync(status, "application/x-amz-json-1.0", body);
        using var client = new AmazonSQSClient(LocalAws.Credentials, new AmazonSQSConfig { ServiceURL = server.Url, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });

        var error = await Caught(() => client.SendMessageAsync(server.Url + "000000000000/q", "x"));

        Assert.IsType<AmazonSQSException>(error, exactMatch: false);
        Assert.Equal(transient, AwsFaults.IsTransient(error));
    }

    [Theory]
    [InlineData(503, "SlowDown", true)]
    [InlineData(500, "InternalError", true)]
    [InlineData(403, "AccessDenied", false)]
    public async Task S3_slow_down_and_server_errors_are_transient_and_access_denied_is_not(int status, string code, bool transient)
    {
        await using var server = await AwsLikeServer.StartAsync(status, "application/xml", $"<Error><Code>{code}</Code><Message>m</Message></Error>");
        using var client = new AmazonS3Client(
            LocalAws.Credentials, new AmazonS3Config { ServiceURL = server.Url, AuthenticationRegion = "us-east-1", ForcePathStyle = true, MaxErrorRetry = 0 });

        var error = await Caught(() => client.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = "bucket", Key = "k", ContentBody = "x" }));

        Assert.IsType<AmazonS3Exception>(error, exactMatch: false);
        Assert.Equal(transient, AwsFaults.IsTransient(error));
    }

    [Theory]
    [InlineData(400, "Throttling", true)]
    [InlineData(500, "InternalFailure", true)]
    [InlineData(404, "NotFound", false)]
    public async Task SNS_throttling_and_server_errors_are_transient_and_its_client_errors_are_not(int status, string code, bool transient)
    {
        await using var server = await AwsLikeServer.StartAsync(status, "text/xml",
            $"""<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>{code}</Code><Message>m</Message></Error></ErrorResponse>""");
        var client = SnsClient.Create(LocalAws.Credentials, Amazon.RegionEndpoint.USEast1, new Uri(server.Url));

        var error = await Caught(() => client.PublishAsync("arn:aws:sns:us-east-1:000000000000:t", "m", "s", new Dictionary<string, string>(), CancellationToken.None));

        Assert.IsType<SnsException>(error);
        Assert.Equal(transient, AwsFaults.IsTransient(error));
    }

    private static AmazonDynamoDBClient DynamoDb(string url, TimeSpan? timeout = null) => new(LocalAws.Credentials, new AmazonDynamoDBConfig
    {
        ServiceURL = url,
        AuthenticationRegion = "us-east-1",
        MaxErrorRetry = 0,
        Timeout = timeout ?? TimeSpan.FromSeconds(10),
    });

    private static async Task<Exception> Caught(Func<Task> call) => Assert.IsAssignableFrom<Exception>(await Record.ExceptionAsync(call));

    /// <summary>A loopback server that answers every request with one status, content type and body, as an AWS endpoint would.</summary>
    private sealed class AwsLikeServer(WebApplication app) : IAsyncDisposable
    {
        public string Url { get; } = app.Urls.Single() + "/";

        public static async Task<AwsLikeServer> StartAsync(int status, string contentType, string body)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            app.Run(async context =>
            {
                context.Response.StatusCode = status;
                context.Response.ContentType = contentType;
                await context.Response.WriteAsync(body);
            });
            await app.StartAsync();
            return new AwsLikeServer(app);
        }

        public ValueTask DisposeAsync() => app.DisposeAsync();
    }
}
