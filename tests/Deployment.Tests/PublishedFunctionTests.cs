using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2.Model;
using Pipeline.Aggregator;
using Pipeline.Events;
using Pipeline.Lambda;
using Pipeline.Local.Environment;
using Pipeline.Local.Hosting;
using Pipeline.Local.Lambda;
using Pipeline.Local.Provisioning;
using Pipeline.Tests;

namespace Pipeline.Deployment.Tests;

/// <summary>
/// The published function programs, run as Lambda runs them: each its own process started with `dotnet exec`, with
/// Lambda's environment, talking to a Runtime API on a loopback port (the local Lambda's, which checks the protocol).
/// </summary>
public sealed class PublishedFunctionTests
{
    private readonly ConcurrentQueue<string> _output = new();

    [Fact]
    public async Task The_processor_answers_an_sqs_event_with_its_partial_batch_response_and_writes_emf_lines_on_stdout()
    {
        var (aws, stack) = await SetUpAsync();
        await using var processor = new LocalFunction(await DefinitionAsync(stack, LocalProcessor.LogicalId, aws.Endpoints), 1, _output.Enqueue);
        var stored = Event("stored");

        var response = JsonNode.Parse(await processor.InvokeAsync(SqsEvent(Body(stored), "not an event"), CancellationToken.None))!;

        Assert.Empty(response["batchItemFailures"]!.AsArray()); // the poison record is rejected and acknowledged, not retried
        var item = (await aws.DynamoDb.GetItemAsync(stack["EventsTable"], new() { ["eventId"] = new AttributeValue(stored.EventId) })).Item;
        Assert.Equal("stored", item["eventType"].S);
        var emf = _output.Where(l => l.Contains("\"_aws\"", StringComparison.Ordinal)).Select(l => JsonNode.Parse(l)).ToList();
        var metrics = Assert.IsType<JsonObject>(Assert.Single(emf));
        Assert.Equal("EventPipeline", metrics["_aws"]!["CloudWatchMetrics"]![0]!["Namespace"]!.GetValue<string>());
        Assert.Equal(1, metrics["Processed"]!.GetValue<double>());
        Assert.Equal(1, metrics["Rejected"]!.GetValue<double>());
        Assert.Equal(processor.Reports.Single().RequestId, metrics["requestId"]!.GetValue<string>());
        // Every line the process wrote is one JSON object (our log lines and the EMF line), or the local REPORT line.
        Assert.All(_output.Where(l => !l.StartsWith("REPORT ", StringComparison.Ordinal)), l => Assert.IsType<JsonObject>(JsonNode.Parse(l)));
    }

    [Fact]
    public async Task An_invocation_error_is_posted_to_the_runtime_api_and_the_same_process_serves_the_next_invocation()
    {
        var (aws, stack) = await SetUpAsync();
        await using var processor = new LocalFunction(await DefinitionAsync(stack, LocalProcessor.LogicalId, aws.Endpoints), 1, _output.Enqueue);

        var error = await Assert.ThrowsAsync<LambdaInvocationException>(() => processor.InvokeAsync("not an SQS event"u8.ToArray(), CancellationToken.None));
        var process = Assert.Single(processor.ProcessIds);
        var response = JsonNode.Parse(await processor.InvokeAsync(SqsEvent(Body(Event("after"))), CancellationToken.None))!;

        Assert.Equal("JsonException", error.ErrorType);
        Assert.Empty(response["batchItemFailures"]!.AsArray());
        Assert.Equal([process], processor.ProcessIds);
        Assert.Equal([false, true], processor.Reports.Select(r => r.ErrorType is null));
        Assert.NotNull(processor.Reports.First().InitDuration);
        Assert.Null(processor.Reports.Last().InitDuration);
    }

    [Theory]
    [InlineData("ProcessorFunction", "Events__TableName")]
    [InlineData("ProcessorFunction", "Archive__BucketName")]
    [InlineData("AggregatorFunction", "Summaries__TopicArn")]
    [InlineData("AggregatorFunction", "Queue__DeadLetterUrl")]
    public async Task A_missing_setting_is_posted_to_init_error_naming_it(string function, string setting)
    {
        var (aws, stack) = await SetUpAsync();
        var definition = await DefinitionAsync(stack, function, aws.Endpoints);
        var environment = definition.Environment.Where(v => v.Key != setting).ToDictionary();
        await using var lambda = new LocalFunction(definition with { Environment = environment }, 1, _output.Enqueue);

        var error = await Assert.ThrowsAsync<LambdaInvocationException>(() => lambda.InvokeAsync("{}"u8.ToArray(), CancellationToken.None));

        Assert.Equal("Runtime.InvalidOperationException", error.ErrorType);
        Assert.Contains(setting, error.ErrorMessage, StringComparison.Ordinal);
        Assert.Empty(lambda.ProcessIds);
    }

    [Fact]
    public async Task Near_its_deadline_the_processor_answers_in_time_with_the_unwritten_records_as_failures()
    {
        var (aws, stack) = await SetUpAsync();
        await using var unreachable = new TcpProxy(aws.Endpoints.DynamoDb);
        unreachable.Cut(); // DynamoDB refuses every connection: each write is retried until the budget ends
        var definition = await DefinitionAsync(stack, LocalProcessor.LogicalId, aws.Endpoints,
            new Dictionary<string, string> { ["AWS_ENDPOINT_URL_DYNAMODB"] = unreachable.Address.ToString() });
        await using var processor = new LocalFunction(definition with { Timeout = TimeSpan.FromSeconds(4) }, 1, _output.Enqueue);
        var events = Enumerable.Range(0, 10).Select(i => Event($"e{i}")).ToList();

        var started = Stopwatch.StartNew();
        var response = JsonNode.Parse(await processor.InvokeAsync(SqsEvent([.. events.Select(Body)]), CancellationToken.None))!;

        Assert.InRange(started.Elapsed, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4)); // it used its time, and answered before Lambda's timeout
        Assert.Equal(10, response["batchItemFailures"]!.AsArray().Count);
        Assert.Null(processor.Reports.Single().ErrorType);
    }

    [Fact]
    public async Task An_invocation_past_its_timeout_is_reported_as_a_timeout_its_process_killed_and_the_next_invocation_gets_a_new_one()
    {
        var (aws, stack) = await SetUpAsync();
        var definition = await DefinitionAsync(stack, LocalProcessor.LogicalId, aws.Endpoints);
        await using var processor = new LocalFunction(definition with { Timeout = TimeSpan.FromSeconds(3) }, 1, _output.Enqueue);
        await processor.InvokeAsync(SqsEvent(Body(Event("warm"))), CancellationToken.None);
        var frozen = Assert.Single(processor.ProcessIds);

        // A process that stops answering (frozen with SIGSTOP while it waits for its next event).
        using (var stop = Process.Start("kill", ["-STOP", frozen.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await stop.WaitForExitAsync();
        }
        var started = Stopwatch.StartNew();
        var timeout = await Assert.ThrowsAsync<LambdaInvocationException>(() => processor.InvokeAsync(SqsEvent(Body(Event("lost"))), CancellationToken.None));
        var elapsed = started.Elapsed;
        var after = JsonNode.Parse(await processor.InvokeAsync(SqsEvent(Body(Event("after"))), CancellationToken.None))!;

        Assert.Equal("Sandbox.Timedout", timeout.ErrorType);
        Assert.Contains("Task timed out after 3.00 seconds", timeout.ErrorMessage, StringComparison.Ordinal);
        Assert.InRange(elapsed, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(6));
        Assert.Throws<ArgumentException>(() => Process.GetProcessById(frozen)); // killed
        Assert.Empty(after["batchItemFailures"]!.AsArray());
        Assert.DoesNotContain(frozen, processor.ProcessIds);
    }

    [Fact]
    public async Task The_aggregator_answers_a_scheduled_event_with_its_run_and_publishes_the_summary()
    {
        var (aws, stack) = await SetUpAsync();
        var definition = await DefinitionAsync(stack, LocalAggregator.LogicalId, aws.Endpoints,
            new Dictionary<string, string> { ["Summaries__WindowMinutes"] = "1", ["Summaries__SettleSeconds"] = "0" });
        await using var aggregator = new LocalFunction(definition, 1, _output.Enqueue);

        var run = await LocalAggregator.InvokeAsync(aggregator, CancellationToken.None);

        var published = Assert.Single(run.Published);
        var summary = Assert.Single(await new SummaryStore(aws.DynamoDb, stack["SummariesTable"], TimeProvider.System).RecentAsync(5, CancellationToken.None));
        Assert.Equal(published, summary.WindowStart);
        Assert.Contains(_output, l => l.Contains("\"level\":\"INFO\"", StringComparison.Ordinal) && l.Contains("\"function\":\"aggregator\"", StringComparison.Ordinal));
    }

    private static async Task<(Pipeline.Local.Environment.LocalAws Aws, ProvisionedResources Stack)> SetUpAsync()
    {
        var aws = await TestEnvironment.CreateClientsAsync();
        return (aws, await TestEnvironment.ProvisionAsync(aws));
    }

    private static async Task<FunctionDefinition> DefinitionAsync(ProvisionedResources stack, string function, Pipeline.Local.Environment.LocalEndpoints endpoints,
        IReadOnlyDictionary<string, string>? overrides = null) =>
        LocalLambda.Definition(stack, function, endpoints, overrides, await PublishedFunctions.FolderAsync(function, "linux-x64"));

    private static QueuedEvent Event(string type) => new()
    {
        SchemaVersion = QueuedEvent.CurrentSchemaVersion,
        EventId = Guid.CreateVersion7().ToString(),
        EventType = type,
        UserId = "u-1",
        OccurredAt = DateTimeOffset.UtcNow,
        ReceivedAt = DateTimeOffset.UtcNow,
        RequestId = "r",
    };

    private static string Body(QueuedEvent e) => JsonSerializer.Serialize(e, EventJsonContext.Default.QueuedEvent);

    private static byte[] SqsEvent(params string[] bodies) => JsonSerializer.SerializeToUtf8Bytes(new SqsEvent
    {
        Records = [.. bodies.Select(b => new SqsMessage { MessageId = Guid.NewGuid().ToString(), ReceiptHandle = "h", Body = b, EventSource = "aws:sqs" })],
    }, LambdaJsonContext.Default.SqsEvent);
}
