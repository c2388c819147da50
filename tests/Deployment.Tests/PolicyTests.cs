using System.Net.Http.Json;
using System.Text.Json;
using Amazon.DynamoDBv2;
using Amazon.Runtime.Signing;
using Amazon.S3;
using Amazon.SQS;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Aggregator;
using Pipeline.ApiKeys;
using Pipeline.Events;
using Pipeline.Lambda;
using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;
using Pipeline.Local.EventSourceMapping;
using Pipeline.Processor;
using Pipeline.Sns;
using Pipeline.Summaries;
using Pipeline.Tests;

namespace Pipeline.Deployment.Tests;

/// <summary>
/// Every AWS action the code calls on a resource is allowed by its function's role on that resource, and nothing
/// more is allowed. The calls are recorded from the functions' real work against the emulators, not kept by hand.
/// </summary>
public sealed class PolicyTests
{
    // Calls the Lambda service makes with the function's role, not the code (AWS Lambda Developer Guide:
    // "Execution role permissions" for SQS event sources, and the log permissions of every function).
    private static IEnumerable<(string Action, string Resource, string Qualifier)> PlatformCalls(string function)
    {
        var logGroup = Template.Properties(function)["LoggingConfig"]!["LogGroup"]!["Ref"]!.GetValue<string>();
        yield return ("logs:CreateLogStream", logGroup, "");
        yield return ("logs:PutLogEvents", logGroup, "");
        if (function == "ProcessorFunction")
        {
            yield return ("sqs:ReceiveMessage", "EventsQueue", "");
            yield return ("sqs:DeleteMessage", "EventsQueue", "");
            yield return ("sqs:GetQueueAttributes", "EventsQueue", "");
            yield return ("sqs:ReceiveMessage", "ImportEventsQueue", "");
            yield return ("sqs:DeleteMessage", "ImportEventsQueue", "");
            yield return ("sqs:GetQueueAttributes", "ImportEventsQueue", "");
        }
        if (function == "ImportFunction")
        {
            yield return ("sqs:ReceiveMessage", "ImportQueue", "");
            yield return ("sqs:DeleteMessage", "ImportQueue", "");
            yield return ("sqs:GetQueueAttributes", "ImportQueue", "");
        }
    }

    [Fact]
    public async Task The_api_role_allows_exactly_what_the_api_calls()
    {
        var (aws, stack, network) = await SetUpAsync();
        var (key, _) = await new ApiKeyRegistry(aws.DynamoDb, stack["ApiKeysTable"]).CreateAsync("policy", CancellationToken.None);
        var url = $"http://127.0.0.1:{LocalEmulators.FreePort()}";
        await using (var api = await InProcess.StartApiAsync(aws.Endpoints, stack, url, CancellationToken.None, services =>
        {
            services.AddSingleton<IAmazonSQS>(Sqs(aws, network));
            services.AddSingleton<IAmazonDynamoDB>(DynamoDb(aws, network));
        }))
        {
            using var client = new HttpClient { BaseAddress = new Uri(url) };
            client.DefaultRequestHeaders.Add("x-api-key", key);
            (await client.PostAsJsonAsync("/events", new { eventType = "a", userId = "u" })).EnsureSuccessStatusCode();
            (await client.PostAsJsonAsync("/events/batch", new { events = new[] { new { eventType = "a", userId = "u" } } })).EnsureSuccessStatusCode();
        }

        AssertPolicyMatches("ApiFunction", stack, network);
    }

    [Theory]
    [InlineData("PAY_PER_REQUEST")]
    [InlineData("PROVISIONED")] // the same calls: a provisioned table needs no other permission of the Processor
    public async Task The_processor_role_allows_exactly_what_the_processor_calls(string billingMode)
    {
        var (aws, stack, network) = await SetUpAsync(new Dictionary<string, string> { ["EventsTableBillingMode"] = billingMode });
        // A table created provisioned has no billing mode summary (DynamoDB's answer, and DynamoDB Local's).
        Assert.Equal(billingMode, (await aws.DynamoDb.DescribeTableAsync(stack["EventsTable"])).Table.BillingModeSummary?.BillingMode.Value ?? "PROVISIONED");
        await using var capacity = await CapacityProxy.StartAsync(aws.Endpoints.DynamoDb, writesPerSecond: 1000);
        var function = new ProcessorFunction(InProcess.ProcessorOptions(stack), DynamoDb(aws, network, capacity.Address), S3(aws, network), Sqs(aws, network),
            TimeProvider.System, new FunctionLog(TextWriter.Null, "processor"));
        var queued = new QueuedEvent
        {
            SchemaVersion = 1,
            EventId = Guid.NewGuid().ToString(),
            EventType = "a",
            UserId = "u",
            OccurredAt = DateTimeOffset.UtcNow,
            ReceivedAt = DateTimeOffset.UtcNow,
            RequestId = "r",
        };
        var good = JsonSerializer.Serialize(queued, EventJsonContext.Default.QueuedEvent);
        // Received days ago (a redrive): archived long after its window, so with a late marker.
        var late = JsonSerializer.Serialize(queued with { EventId = Guid.NewGuid().ToString(), ReceivedAt = queued.ReceivedAt.AddDays(-3) }, EventJsonContext.Default.QueuedEvent);
        await aws.Sqs.SendMessageAsync(stack.Resources["EventsQueue"].Ref, good);
        await aws.Sqs.SendMessageAsync(stack.Resources["EventsQueue"].Ref, late);
        await aws.Sqs.SendMessageAsync(stack.Resources["EventsQueue"].Ref, "poison");

        Assert.Equal(3, await Source(aws, stack, network, function, "EventsQueue", TimeSpan.FromSeconds(30)).PollOnceAsync(CancellationToken.None));

        // The table at its capacity (either mode: an on-demand table throttles too, above twice its previous peak): what it
        // left unwritten goes back to the queue it came from, the live events' or the imported rows'.
        capacity.WritesPerSecond = 0;
        foreach (var queue in LocalProcessor.Queues)
        {
            var throttled = JsonSerializer.Serialize(queued with { EventId = Guid.NewGuid().ToString() }, EventJsonContext.Default.QueuedEvent);
            await aws.Sqs.SendMessageAsync(stack.Resources[queue].Ref, throttled);
            // 8 s: the writes retry to about 4.5 s, leaving about 1.5 s for the archive and the requeue on a loaded machine.
            Assert.Equal(1, await Source(aws, stack, network, function, queue, TimeSpan.FromSeconds(8)).PollOnceAsync(CancellationToken.None));
            var back = await aws.Sqs.ReceiveMessageAsync(new Amazon.SQS.Model.ReceiveMessageRequest(stack.Resources[queue].Ref) { WaitTimeSeconds = 1 });
            Assert.Equal(throttled, Assert.Single(back.Messages ?? []).Body);
        }

        AssertPolicyMatches("ProcessorFunction", stack, network);
    }

    private static SqsEventSource Source(LocalAws aws, ProvisionedResources stack, RecordingNetwork network, ProcessorFunction function, string queue, TimeSpan timeout) =>
        new(Sqs(aws, network), stack.Resources[queue].Ref, stack.Resources[queue].Attributes["Arn"], "us-east-1",
            (payload, ct) => function.HandleAsync(payload, TestLambda.Context(timeout), ct),
            new EventSourceOptions { BatchingWindow = TimeSpan.FromMilliseconds(500) },
            _ => { });

    [Fact]
    public async Task The_aggregator_role_allows_exactly_what_the_aggregator_calls()
    {
        var (aws, stack, network) = await SetUpAsync();
        var sns = new SnsClient(new HttpClient(new SigV4SigningHandler(LocalAws.Credentials, Amazon.RegionEndpoint.USEast1, "sns", network.Handler())), aws.Endpoints.Fauxqs);
        var options = InProcess.AggregatorOptions(stack, TimeSpan.FromHours(1));
        var function = new AggregatorFunction(options, DynamoDb(aws, network), S3(aws, network), Sqs(aws, network),
            sns, TimeProvider.System, new FunctionLog(TextWriter.Null, "aggregator"));
        // A stored event of the window the run will summarize, archived as the Processor archives it, late (with a marker).
        var now = DateTimeOffset.UtcNow;
        var window = SummaryWindows.Due(now, options.Window, options.Settle, now - options.Settle - options.Lookback, int.MaxValue)[^1];
        var stored = new QueuedEvent
        {
            SchemaVersion = QueuedEvent.CurrentSchemaVersion,
            EventId = Guid.NewGuid().ToString(),
            EventType = "a",
            UserId = "u",
            OccurredAt = window.Start,
            ReceivedAt = window.Start,
            RequestId = "r",
        };
        await new EventArchive(aws.S3, stack["ArchiveBucket"], TimeSpan.Zero, TimeProvider.System).WriteAsync([stored], DateTimeOffset.UtcNow, CancellationToken.None);

        // And an hour past its look-back: the run compacts it; a late event in it, and the next run compacts it again.
        var old = stored with { EventId = Guid.NewGuid().ToString(), ReceivedAt = window.Start.AddHours(-6), OccurredAt = window.Start.AddHours(-6) };
        var archive = new EventArchive(aws.S3, stack["ArchiveBucket"], TimeSpan.FromDays(1), TimeProvider.System);
        await archive.WriteAsync([old], DateTimeOffset.UtcNow, CancellationToken.None);

        var run = await function.RunAsync(CancellationToken.None);
        await archive.WriteAsync([old with { EventId = Guid.NewGuid().ToString() }], DateTimeOffset.UtcNow, CancellationToken.None);
        var next = await function.RunAsync(CancellationToken.None);

        Assert.Single(run.Published);
        Assert.Equal(1, run.CompactedHours);
        Assert.Equal(1, next.CompactedHours);
        AssertPolicyMatches("AggregatorFunction", stack, network);
    }

    [Fact]
    public async Task The_import_role_allows_exactly_what_the_import_function_calls()
    {
        var (aws, stack, network) = await SetUpAsync();
        var sns = new SnsClient(new HttpClient(new SigV4SigningHandler(LocalAws.Credentials, Amazon.RegionEndpoint.USEast1, "sns", network.Handler())), aws.Endpoints.Fauxqs);
        var options = Pipeline.Importer.ImporterOptions.FromEnvironment(stack.FunctionEnvironment("ImportFunction").GetValueOrDefault);
        var run = new Pipeline.Importer.ImportRun(options, S3(aws, network), Sqs(aws, network), sns,
            new Pipeline.Importer.ImportRecords(DynamoDb(aws, network), options.TableName), DynamoDb(aws, network), TimeProvider.System,
            new FunctionLog(TextWriter.Null, "import"));
        var put = await aws.S3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest
        {
            BucketName = options.BucketName,
            Key = "uploads/policy.jsonl",
            ContentBody = "{\"eventType\":\"a\",\"userId\":\"u\"}\nnot json\n",
        });
        var job = new Pipeline.Importer.ImportJob(options.BucketName, "uploads/policy.jsonl", put.ETag.Trim('"'));

        // Past its deadline at once: it saves its state and sends a continuation; the continuation then imports the file,
        // writes the report, alerts on the refused line and closes the record.
        await run.RunAsync(job, DateTimeOffset.UtcNow.AddSeconds(-1), "r", CancellationToken.None);
        await run.RunAsync(job with { Continued = true }, DateTimeOffset.UtcNow.AddMinutes(1), "r", CancellationToken.None);

        var record = await new Pipeline.Importer.ImportRecords(aws.DynamoDb, options.TableName).ReadAsync(job, CancellationToken.None);
        Assert.Equal(Pipeline.Importer.ImportProgress.Imported, record!.Status);
        Assert.Equal(1, record.Accepted);
        Assert.Equal(1, record.Refused);

        // A Segment file: imported under the write key it names by id (the keys table is scanned for it).
        var (_, key) = await new ApiKeyRegistry(aws.DynamoDb, stack["ApiKeysTable"]).CreateAsync("segment", CancellationToken.None);
        var segment = await aws.S3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest
        {
            BucketName = options.BucketName,
            Key = $"uploads/segment/{key.KeyId}/policy.json",
            ContentBody = "{\"type\":\"track\",\"event\":\"A\",\"userId\":\"u\",\"messageId\":\"m-1\"}\n",
        });
        var segmentJob = new Pipeline.Importer.ImportJob(options.BucketName, $"uploads/segment/{key.KeyId}/policy.json", segment.ETag.Trim('"'));
        await run.RunAsync(segmentJob, DateTimeOffset.UtcNow.AddMinutes(1), "r", CancellationToken.None);
        Assert.Equal(1, (await new Pipeline.Importer.ImportRecords(aws.DynamoDb, options.TableName).ReadAsync(segmentJob, CancellationToken.None))!.Accepted);
        AssertPolicyMatches("ImportFunction", stack, network);
    }

    private static void AssertPolicyMatches(string function, ProvisionedResources stack, RecordingNetwork network)
    {
        var allowed = Template.AllowStatements(function)
            .SelectMany(s => Template.Strings(s["Action"]).SelectMany(a => (s["Resource"] is System.Text.Json.Nodes.JsonArray list ? list.Select(r => r!) : [s["Resource"]!])
                .Select(r => (Action: a, Template.ResourceOf(r).Resource, Template.ResourceOf(r).Qualifier))))
            .ToHashSet();
        var called = network.Calls.Select(c => (c.Action, Resource: LogicalId(stack, c), c.Qualifier))
            .Concat(PlatformCalls(function))
            .ToHashSet();

        Assert.Empty(called.Except(allowed)); // everything called is allowed
        Assert.Empty(allowed.Except(called)); // nothing more is allowed
    }

    // A physical name can be shared across services (the events queue and table are both <stack>-events).
    private static string LogicalId(ProvisionedResources stack, AwsCall call)
    {
        var type = call.Action.Split(':')[0] switch
        {
            "dynamodb" => "AWS::DynamoDB::Table",
            "sqs" => "AWS::SQS::Queue",
            "s3" => "AWS::S3::Bucket",
            _ => "AWS::SNS::Topic",
        };
        return stack.Resources.Values
            .FirstOrDefault(r => r.Type == type && (r.PhysicalName == call.Resource || r.Attributes.GetValueOrDefault("QueueName") == call.Resource))?.LogicalId
            ?? call.Resource;
    }

    private static async Task<(LocalAws Aws, ProvisionedResources Stack, RecordingNetwork Network)> SetUpAsync(IReadOnlyDictionary<string, string>? parameters = null)
    {
        var aws = await TestEnvironment.CreateClientsAsync();
        return (aws, await TestEnvironment.ProvisionAsync(aws, parameters: parameters), new RecordingNetwork());
    }

    private static AmazonDynamoDBClient DynamoDb(LocalAws aws, RecordingNetwork network, Uri? endpoint = null) =>
        new(LocalAws.Credentials, new AmazonDynamoDBConfig
        {
            ServiceURL = (endpoint ?? aws.Endpoints.DynamoDb).ToString(),
            AuthenticationRegion = "us-east-1",
            HttpClientFactory = network,
            MaxErrorRetry = ProcessorFunction.DynamoDbConfig().MaxErrorRetry, // as the Processor's program sets it
        });

    private static AmazonSQSClient Sqs(LocalAws aws, RecordingNetwork network) =>
        new(LocalAws.Credentials, new AmazonSQSConfig { ServiceURL = aws.Endpoints.Fauxqs.ToString(), AuthenticationRegion = "us-east-1", HttpClientFactory = network });

    private static AmazonS3Client S3(LocalAws aws, RecordingNetwork network) =>
        new(LocalAws.Credentials, new AmazonS3Config
        {
            ServiceURL = aws.Endpoints.Fauxqs.ToString(),
            AuthenticationRegion = "us-east-1",
            ForcePathStyle = true,
            HttpClientFactory = network,
        });
}
