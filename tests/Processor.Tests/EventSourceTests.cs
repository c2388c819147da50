using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.SQS.Model;
using Pipeline.ApiKeys;
using Pipeline.Lambda;
using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;
using Pipeline.Local.EventSourceMapping;
using Pipeline.Tests;

namespace Pipeline.Processor.Tests;

public sealed class EventSourceTests
{
    private const string QueueWithShortRedrive = """
        {
          "Resources": {
            "Dlq": { "Type": "AWS::SQS::Queue", "Properties": { "QueueName": { "Fn::Sub": "${AWS::StackName}-dlq" } } },
            "Queue": { "Type": "AWS::SQS::Queue", "Properties": {
              "QueueName": { "Fn::Sub": "${AWS::StackName}-q" }, "VisibilityTimeout": 3,
              "RedrivePolicy": { "deadLetterTargetArn": { "Fn::GetAtt": [ "Dlq", "Arn" ] }, "maxReceiveCount": 2 } } }
          }
        }
        """;

    [Fact]
    public async Task The_event_source_invokes_with_lambdas_event_deletes_successes_and_redrives_a_failure_to_the_dlq()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await new TemplateProvisioner(aws).ProvisionAsync(QueueWithShortRedrive, TestEnvironment.UniqueStackName(), null, CancellationToken.None);
        var queue = stack.Resources["Queue"];
        for (var i = 0; i < 12; i++)
        {
            await aws.Sqs.SendMessageAsync(new SendMessageRequest
            {
                QueueUrl = queue.Ref,
                MessageBody = i == 5 ? "always fails" : $"m{i}",
                MessageAttributes = new() { ["eventType"] = new MessageAttributeValue { DataType = "String", StringValue = "t" } },
            });
        }
        var invocations = new List<SqsEvent>();
        Task<byte[]> Handler(byte[] input, CancellationToken cancellationToken)
        {
            var sqsEvent = JsonSerializer.Deserialize(input, LambdaJsonContext.Default.SqsEvent)!;
            lock (invocations)
            {
                invocations.Add(sqsEvent);
            }
            var failures = sqsEvent.Records.Where(r => r.Body == "always fails").Select(r => new BatchItemFailure(r.MessageId)).ToList();
            return Task.FromResult(JsonSerializer.SerializeToUtf8Bytes(new SqsBatchResponse { BatchItemFailures = failures }, LambdaJsonContext.Default.SqsBatchResponse));
        }
        var source = new SqsEventSource(aws.Sqs, queue.Ref, queue.Attributes["Arn"], "us-east-1", Handler,
            new EventSourceOptions { BatchingWindow = TimeSpan.FromMilliseconds(300) }, _ => { });

        List<Message> dead = [];
        Assert.True(await Eventually.UntilAsync(async () =>
        {
            await source.PollOnceAsync(CancellationToken.None);
            dead = (await aws.Sqs.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = stack.Resources["Dlq"].Ref, WaitTimeSeconds = 0 })).Messages ?? [];
            return dead.Count > 0;
        }, TimeSpan.FromSeconds(30)));

        Assert.Equal("always fails", Assert.Single(dead).Body);
        Assert.All(invocations, e => Assert.InRange(e.Records.Count, 1, 10));
        var first = invocations[0].Records[0];
        Assert.Equal("aws:sqs", first.EventSource);
        Assert.Equal(queue.Attributes["Arn"], first.EventSourceArn);
        Assert.Equal("1", first.Attributes["ApproximateReceiveCount"]);
        Assert.Equal("t", first.MessageAttributes["eventType"].StringValue);
        var delivered = invocations.SelectMany(e => e.Records).ToList();
        Assert.Equal(11, delivered.Where(r => r.Body != "always fails").Select(r => r.Body).Distinct().Count());
        Assert.Equal(11, delivered.Count(r => r.Body != "always fails")); // each success delivered once, then deleted
        Assert.Equal(2, delivered.Count(r => r.Body == "always fails")); // maxReceiveCount deliveries, then the DLQ
        var left = await aws.Sqs.GetQueueAttributesAsync(queue.Ref, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]);
        Assert.Equal(0, left.ApproximateNumberOfMessages + left.ApproximateNumberOfMessagesNotVisible);
    }

    [Fact]
    public async Task Events_posted_to_the_api_are_in_dynamodb_and_in_the_s3_archive_once_the_processor_returns_with_no_aggregator_run()
    {
        await using var harness = await ProcessorHarness.StartAsync();
        var (key, _) = await new ApiKeyRegistry(harness.Aws.DynamoDb, harness.Stack["ApiKeysTable"]).CreateAsync("e2e", CancellationToken.None);
        var url = $"http://127.0.0.1:{LocalEmulators.FreePort()}";
        await using var api = await InProcess.StartApiAsync(harness.Aws.Endpoints, harness.Stack, url, CancellationToken.None);
        using var client = new HttpClient { BaseAddress = new Uri(url) };
        client.DefaultRequestHeaders.Add("x-api-key", key);

        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var single = await client.PostAsJsonAsync("/events", new { eventType = "page_view", userId = $"u{i}", properties = new { i } });
            Assert.Equal(HttpStatusCode.Accepted, single.StatusCode);
            ids.Add((await single.Content.ReadFromJsonAsync<JsonObject>())!["eventId"]!.GetValue<string>());
        }
        var batch = await client.PostAsJsonAsync("/events/batch", new { events = Enumerable.Range(0, 20).Select(i => new { eventType = "click", anonymousId = $"a{i}" }) });
        Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
        ids.AddRange((await batch.Content.ReadFromJsonAsync<JsonObject>())!["items"]!.AsArray().Select(i => i!["eventId"]!.GetValue<string>()));

        await using var processor = LocalProcessor.Start(harness.Stack, harness.Aws.Endpoints, _ => { });
        var source = LocalProcessor.EventSource(harness.Aws, harness.Stack, processor.InvokeAsync, new EventSourceOptions(), _ => { });
        Assert.True(await Eventually.UntilAsync(
            async () => (await harness.ItemsAsync()).Count >= ids.Count, TimeSpan.FromSeconds(20), () => source.PollOnceAsync(CancellationToken.None)));

        var items = await harness.ItemsAsync();
        Assert.Equal(ids.Order(), items.Select(i => i["eventId"].S).Order());
        Assert.Equal("127.0.0.1", items[0]["sourceIp"].S);
        var archived = (await harness.ArchivedEventsAsync()).Select(e => e["eventId"]!.GetValue<string>()).ToList();
        Assert.Equal(ids.Order(), archived.Order());
    }

    [Fact]
    public async Task A_processor_process_killed_mid_batch_loses_nothing_the_batch_is_redelivered_and_stored_once()
    {
        await using var harness = await ProcessorHarness.StartAsync();
        var queue = harness.Stack.Resources["EventsQueue"];
        // Redelivery after 3 s instead of the template's 180 s, so the test is short.
        await harness.Aws.Sqs.SetQueueAttributesAsync(queue.Ref, new Dictionary<string, string> { ["VisibilityTimeout"] = "3" });
        var events = Enumerable.Range(0, 10).Select(i => ProcessorHarness.Event(i)).ToList();
        await harness.Aws.Sqs.SendMessageBatchAsync(
            queue.Ref,
            [.. events.Select((e, i) => new SendMessageBatchRequestEntry($"{i}", JsonSerializer.Serialize(e, Pipeline.Events.EventJsonContext.Default.QueuedEvent)))]);
        // DynamoDB behind a slow link: the batch's writes hang long enough to kill the process while they are under way.
        await using var slowDynamoDb = new TcpProxy(harness.Aws.Endpoints.DynamoDb) { Delay = TimeSpan.FromSeconds(2) };
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var processor = LocalProcessor.Start(harness.Stack, harness.Aws.Endpoints, output.Enqueue,
            new Dictionary<string, string> { ["AWS_ENDPOINT_URL_DYNAMODB"] = slowDynamoDb.Address.ToString() });
        var source = LocalProcessor.EventSource(harness.Aws, harness.Stack, processor.InvokeAsync,
            new EventSourceOptions { Concurrency = 1, BatchingWindow = TimeSpan.FromSeconds(1) }, _ => { });
        using var stop = new CancellationTokenSource();
        var polling = source.RunAsync(stop.Token);

        // The batch's writes have left the process, and are held by the link.
        Assert.True(await Eventually.UntilAsync(() => processor.BusyProcessIds.Count > 0 && slowDynamoDb.ClientBytes > 0, TimeSpan.FromSeconds(30)));
        var killed = Assert.Single(processor.ProcessIds);
        System.Diagnostics.Process.GetProcessById(killed).Kill();
        slowDynamoDb.Delay = TimeSpan.Zero;
        // Until the redelivered batch is done: the writes the link held may land without it, so the items alone do not tell.
        Assert.True(await Eventually.UntilAsync(async () => await QueuedAsync(harness) == 0, TimeSpan.FromSeconds(30)));
        await stop.CancelAsync();
        await polling;

        Assert.Contains(processor.Reports, r => r.ErrorType == "Runtime.ExitError");
        Assert.DoesNotContain(killed, processor.ProcessIds); // a new process took the redelivered batch
        var items = await harness.ItemsAsync();
        Assert.Equal(events.Select(e => e.EventId).Order(), items.Select(i => i["eventId"].S).Order());
        // The killed invocation wrote no metric line; each redelivery accounts for all ten (stored, or found stored), and no
        // event is stored twice. On a loaded machine a redelivery can outrun the 3 s visibility timeout: then two do.
        var metrics = output.Where(l => l.Contains("\"_aws\"", StringComparison.Ordinal)).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.NotEmpty(metrics);
        Assert.All(metrics, m => Assert.Equal(events.Count, m["Processed"]!.GetValue<double>() + m["Duplicates"]!.GetValue<double>()));
        Assert.InRange(metrics.Sum(m => m["Processed"]!.GetValue<double>()), 0, events.Count);
        var left = await harness.Aws.Sqs.GetQueueAttributesAsync(queue.Ref, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]);
        Assert.Equal(0, left.ApproximateNumberOfMessages + left.ApproximateNumberOfMessagesNotVisible);
        // Every event archived; a batch processed again (its redelivery outran the visibility timeout on the slow link) may
        // archive a copy twice, which is allowed: every reader counts an eventId once (docs/architecture.md, D10).
        var archived = (await harness.ArchivedEventsAsync()).Select(e => e["eventId"]!.GetValue<string>()).ToList();
        Assert.Equal(events.Select(e => e.EventId).Order(), archived.Distinct().Order());
        Assert.All(archived.GroupBy(id => id), copies => Assert.InRange(copies.Count(), 1, 3));
    }

    private static async Task<int> QueuedAsync(ProcessorHarness harness)
    {
        var queue = await harness.Aws.Sqs.GetQueueAttributesAsync(
            harness.Stack.Resources["EventsQueue"].Ref, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]);
        return queue.ApproximateNumberOfMessages + queue.ApproximateNumberOfMessagesNotVisible;
    }
}
