using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Events;
using Pipeline.Local;
using Pipeline.Local.EventSourceMapping;
using Pipeline.Tests;

namespace Pipeline.Processor.Tests;

/// <summary>
/// The events table with provisioned capacity (issue #32), at its floor, under a burst far above it: DynamoDB throttles
/// (<see cref="CapacityProxy"/>: DynamoDB Local never does), and what is throttled waits in the queue, never in the
/// dead-letter queue. The Processor runs as Lambda runs it, its own process, with its DynamoDB endpoint behind the proxy.
/// </summary>
public sealed class CapacityTests
{
    // The template's timings scaled down, as a whole: an 8 s invocation (not 30 s) and a visibility timeout six times it.
    private const int Timeout = 8;

    [Fact]
    public async Task A_burst_far_above_the_provisioned_floor_is_throttled_retried_through_the_queue_and_stored_once_with_nothing_dead_lettered()
    {
        const int floor = 20;
        const int count = 1000; // fifty seconds of the floor, at once: ten batch messages of a hundred events, one Processor batch
        await using var harness = await ProcessorHarness.StartAsync(ScaledTemplate(), TestEnvironment.ProvisionedEventsTable(floor));
        await using var capacity = await CapacityProxy.StartAsync(harness.Aws.Endpoints.DynamoDb, floor);
        var events = Enumerable.Range(0, count).Select(i => ProcessorHarness.Event(i)).ToList();
        foreach (var body in EventBatchMessage.Pack(events.Select(e => JsonSerializer.Serialize(e, EventJsonContext.Default.QueuedEvent))))
        {
            await harness.Aws.Sqs.SendMessageAsync(harness.Stack.Resources["EventsQueue"].Ref, body);
        }
        var output = new ConcurrentQueue<string>();
        await using var processor = LocalProcessor.Start(harness.Stack, harness.Aws.Endpoints, output.Enqueue,
            new Dictionary<string, string> { ["AWS_ENDPOINT_URL_DYNAMODB"] = capacity.Address.ToString() });
        var source = LocalProcessor.EventSource(harness.Aws, harness.Stack, processor.InvokeAsync, LocalProcessor.EventSourceOptions(harness.Stack), _ => { });
        using var stop = new CancellationTokenSource();
        var polling = source.RunAsync(stop.Token);

        // Until the queue is empty (or anything is dead-lettered): a hundred and fifty seconds are three times the floor's fifty.
        var done = await Eventually.UntilAsync(async () => await DepthAsync(harness, "EventsDeadLetterQueue") > 0 || await DepthAsync(harness, "EventsQueue") == 0,
            TimeSpan.FromSeconds(150), () => Task.Delay(500));
        await stop.CancelAsync();
        await polling;

        Assert.True(done, $"The queue still holds {await DepthAsync(harness, "EventsQueue")} messages; {capacity.Admitted} writes admitted, {capacity.Throttled} throttled.");
        Assert.Equal(0, await DepthAsync(harness, "EventsDeadLetterQueue"));
        Assert.True(capacity.Throttled > count, $"Only {capacity.Throttled} writes were throttled: the burst did not exceed the capacity.");
        var items = await harness.ItemsAsync();
        Assert.Equal(events.Select(e => e.EventId).Order(), items.Select(i => i["eventId"].S).Order()); // every event, once
        var archived = (await harness.ArchivedEventsAsync()).Select(e => e["eventId"]!.GetValue<string>()).Distinct();
        Assert.Equal(events.Select(e => e.EventId).Order(), archived.Order());
        var metrics = output.Where(l => l.Contains("\"_aws\"", StringComparison.Ordinal)).Select(l => JsonNode.Parse(l)!).ToList();
        double Sum(string metric) => metrics.Sum(m => m[metric]!.GetValue<double>());
        Assert.True(Sum("Requeued") > 0, "Nothing went back to the queue.");
        // Stored once each; an event whose write landed as the time ran out (its answer cut off) is found stored later: a duplicate.
        Assert.InRange(Sum("Processed"), count - Sum("Duplicates"), count);
    }

    private static async Task<int> DepthAsync(ProcessorHarness harness, string queue)
    {
        var attributes = await harness.Aws.Sqs.GetQueueAttributesAsync(
            harness.Stack.Resources[queue].Ref, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]);
        return attributes.ApproximateNumberOfMessages + attributes.ApproximateNumberOfMessagesNotVisible;
    }

    private static string ScaledTemplate()
    {
        var template = JsonNode.Parse(File.ReadAllText(RepositoryPaths.Discover().Template))!;
        template["Globals"]!["Function"]!["Timeout"] = Timeout;
        template["Resources"]!["EventsQueue"]!["Properties"]!["VisibilityTimeout"] = 6 * Timeout;
        return template.ToJsonString();
    }
}
