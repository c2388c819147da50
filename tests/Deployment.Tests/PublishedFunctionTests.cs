using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2.Model;
using Pipeline.Aggregator;
using Pipeline.Archive;
using Pipeline.Events;
using Pipeline.Lambda;
using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;
using Pipeline.Local.EventSourceMapping;
using Pipeline.Local.Lambda;
using Pipeline.Local.Schedule;
using Pipeline.Summaries;
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
        // The function writes the line before it answers; the reader of its stdout may pass it on a little later.
        Assert.True(await Eventually.UntilAsync(() => _output.Any(l => l.Contains("\"_aws\"", StringComparison.Ordinal)), TimeSpan.FromSeconds(30)));
        await Eventually.QuietAsync();
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
    [InlineData("AggregatorFunction", "AWS_REGION")]
    [InlineData("ImportFunction", "Imports__TableName")]
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

        var response = JsonNode.Parse(await processor.InvokeAsync(SqsEvent([.. events.Select(Body)]), CancellationToken.None))!;

        // The invocation's own time, from the event handed out to the answer (the process's start is not in it, as on Lambda):
        // it used its time, and answered before Lambda's timeout (an answer after it would be reported Sandbox.Timedout).
        var report = processor.Reports.Single();
        Assert.InRange(report.Duration, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4));
        Assert.Equal(10, response["batchItemFailures"]!.AsArray().Count);
        Assert.Null(report.ErrorType);
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
        // The GC heap gets what DuckDB's limit and the native reserve leave of MemorySize, and the process stays within MemorySize.
        var heap = definition.MemorySize - DuckDbLimits.ForFunction(definition.MemorySize).MemoryLimitMegabytes - DuckDbLimits.ProcessReserveMegabytes;
        Assert.Contains(_output, l => l.Contains($"Memory: {definition.MemorySize} MB; GC heap hard limit {heap} MB", StringComparison.Ordinal));
        Assert.InRange(PeakMegabytes(Assert.Single(aggregator.ProcessIds)), 1, definition.MemorySize);
    }

    [Fact]
    public async Task The_processor_limits_its_gc_heap_to_its_memory_size_and_says_so()
    {
        var (aws, stack) = await SetUpAsync();
        var definition = await DefinitionAsync(stack, LocalProcessor.LogicalId, aws.Endpoints);
        await using var processor = new LocalFunction(definition, 1, _output.Enqueue);

        await processor.InvokeAsync(SqsEvent(Body(Event("limited"))), CancellationToken.None);

        var limits = $"Memory: {definition.MemorySize} MB; GC heap hard limit {definition.MemorySize} MB; 0 MB left to native code";
        Assert.Contains(_output, l => l.Contains(limits, StringComparison.Ordinal));
        Assert.InRange(PeakMegabytes(Assert.Single(processor.ProcessIds)), 1, definition.MemorySize);
    }

    // The process's peak resident memory (VmHWM), in MB.
    private static long PeakMegabytes(int processId) =>
        long.Parse(File.ReadLines($"/proc/{processId}/status").Single(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1],
            System.Globalization.CultureInfo.InvariantCulture) / 1024;

    private static async Task<(Pipeline.Local.Emulators.LocalAws Aws, ProvisionedResources Stack)> SetUpAsync()
    {
        var aws = await TestEnvironment.CreateClientsAsync();
        return (aws, await TestEnvironment.ProvisionAsync(aws));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task The_published_aggregator_counts_with_duckdb_from_a_read_only_package_folder_writing_only_under_tmp()
    {
        var (aws, stack) = await SetUpAsync();
        var window = SummaryWindows.Containing(DateTimeOffset.UtcNow.AddMinutes(-2), TimeSpan.FromMinutes(1));
        await new Pipeline.Processor.EventArchive(aws.S3, stack["ArchiveBucket"], TimeSpan.FromDays(1), TimeProvider.System)
            .WriteAsync([Event("counted") with { ReceivedAt = window.Start.AddSeconds(1) }], DateTimeOffset.UtcNow, CancellationToken.None);
        var definition = await DefinitionAsync(stack, LocalAggregator.LogicalId, aws.Endpoints, new Dictionary<string, string>
        {
            ["Summaries__WindowMinutes"] = "1",
            ["Summaries__SettleSeconds"] = "0",
            ["TMPDIR"] = Directory.CreateTempSubdirectory("pipeline-aggregator-tmp-").FullName,
        });
        // As on Lambda, the package folder is read-only: a private mount namespace with a read-only bind mount of it (root
        // ignores file modes, so a chmod would prove nothing). The launcher checks it cannot write there, then runs dotnet.
        var launcher = Path.Combine(definition.Environment["TMPDIR"], "launch.sh");
        await File.WriteAllTextAsync(launcher, """
            #!/bin/sh
            exec unshare -m sh -c 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" || exit 70
            if touch "$0/probe" 2>/dev/null; then echo "the package folder is writable" >&2; exit 71; fi
            exec dotnet "$@"' "$LAMBDA_TASK_ROOT" "$@"
            """.ReplaceLineEndings("\n"));
        File.SetUnixFileMode(launcher, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await using var aggregator = new LocalFunction(definition with { Host = launcher }, 1, _output.Enqueue);

        var run = await LocalAggregator.InvokeAsync(aggregator, CancellationToken.None);

        Assert.Contains(window.Start, run.Published);
        var summary = (await new SummaryStore(aws.DynamoDb, stack["SummariesTable"], TimeProvider.System).GetAsync(window.Start, CancellationToken.None))!.Summary;
        Assert.Equal(1, summary.TotalEvents);
        Assert.Equal(1, summary.ByEventType["counted"]);
        Assert.False(File.Exists(Path.Combine(definition.TaskRoot, "probe")));
        // DuckDB's folders are under TMPDIR, and the run's downloads are gone.
        var root = Path.Combine(definition.Environment["TMPDIR"], "pipeline-aggregator");
        Assert.NotEmpty(Directory.GetDirectories(root, "duckdb", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(root, "*.jsonl.gz", SearchOption.AllDirectories));
    }

    private static async Task<FunctionDefinition> DefinitionAsync(ProvisionedResources stack, string function, Pipeline.Local.LocalEndpoints endpoints,
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
