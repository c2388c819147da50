using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2.Model;
using Amazon.SQS.Model;
using Pipeline.Cli.Commands;
using Pipeline.Events;
using Pipeline.Local.EventSourceMapping;
using Pipeline.Tests;

namespace Pipeline.Local.Tests;

public sealed class RedriveCommandTests
{
    [Fact]
    public async Task Messages_in_the_dlq_go_back_to_the_queue_they_failed_in_and_are_stored_once_and_a_dry_run_changes_nothing()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var dlq = stack.Resources["EventsDeadLetterQueue"].Ref;
        var ids = new List<string>();
        foreach (var chunk in Enumerable.Range(0, 25).Chunk(10))
        {
            var events = chunk.Select(i => new QueuedEvent
            {
                SchemaVersion = QueuedEvent.CurrentSchemaVersion,
                EventId = $"redriven-{i}-{Guid.NewGuid():N}",
                EventType = "page_view",
                UserId = "u",
                OccurredAt = DateTimeOffset.UtcNow,
                ReceivedAt = DateTimeOffset.UtcNow,
                RequestId = "r",
            }).ToList();
            ids.AddRange(events.Select(e => e.EventId));
            await aws.Sqs.SendMessageBatchAsync(
                dlq, [.. events.Select((e, i) => new SendMessageBatchRequestEntry($"{i}", JsonSerializer.Serialize(e, EventJsonContext.Default.QueuedEvent)))]);
        }
        // Three batch messages of imported rows, dead-lettered from the import events queue (the DLQ is shared): they go back
        // there, never to the live queue, where live events would wait behind a file's rows.
        for (var m = 0; m < 3; m++)
        {
            var rows = Enumerable.Range(0, 5).Select(i => JsonSerializer.Serialize(new QueuedEvent
            {
                SchemaVersion = QueuedEvent.CurrentSchemaVersion,
                EventId = $"import:redriven-{m}-{i}",
                EventType = "page_view",
                UserId = "u",
                OccurredAt = DateTimeOffset.UtcNow,
                ReceivedAt = DateTimeOffset.UtcNow,
                RequestId = "import-r",
                ImportFile = "s3://imports/uploads/a.jsonl",
                ImportLine = (m * 5) + i + 1,
            }, EventJsonContext.Default.QueuedEvent));
            await aws.Sqs.SendMessageAsync(dlq, EventBatchMessage.Pack(rows).Single());
        }
        string[] Args(params string[] extra) => ["redrive", "--stack", stack.StackName, "--fauxqs", aws.Endpoints.Fauxqs.ToString(), .. extra];

        using var dryRun = new StringWriter();
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(Args("--dry-run"), dryRun, CancellationToken.None));
        Assert.Contains("28 message(s)", dryRun.ToString(), StringComparison.Ordinal);
        Assert.Contains(ids[0][..10], dryRun.ToString(), StringComparison.Ordinal); // the sample names events
        Assert.Equal(28, (await aws.Sqs.GetQueueAttributesAsync(dlq, ["ApproximateNumberOfMessages"])).ApproximateNumberOfMessages);

        using var moved = new StringWriter();
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(Args(), moved, CancellationToken.None));
        Assert.Contains($"Moved 28 message(s): 25 to {stack["EventsQueue"]}, 3 of imported rows to {stack["ImportEventsQueue"]}.", moved.ToString(), StringComparison.Ordinal);
        Assert.Equal(3, (await aws.Sqs.GetQueueAttributesAsync(stack.Resources["ImportEventsQueue"].Ref, ["ApproximateNumberOfMessages"])).ApproximateNumberOfMessages);
        Assert.Contains("moving message by message", moved.ToString(), StringComparison.Ordinal); // fauxqs has no StartMessageMoveTask; AWS's SQS has
        var left = await aws.Sqs.GetQueueAttributesAsync(dlq, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]);
        Assert.Equal((0, 0), (left.ApproximateNumberOfMessages, left.ApproximateNumberOfMessagesNotVisible)); // moved, not hidden in flight

        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var processor = LocalProcessor.Start(stack, aws.Endpoints, lines.Enqueue);
        var source = LocalProcessor.EventSource(aws, stack, processor.InvokeAsync, new EventSourceOptions(), _ => { });
        async Task<List<Dictionary<string, AttributeValue>>> ItemsAsync() =>
            (await aws.DynamoDb.ScanAsync(new ScanRequest { TableName = stack["EventsTable"], ConsistentRead = true })).Items;
        Assert.True(await Eventually.UntilAsync(async () => (await ItemsAsync()).Count >= 25, TimeSpan.FromSeconds(30), () => source.PollOnceAsync(CancellationToken.None)));
        await Eventually.QuietAsync();
        await source.PollOnceAsync(CancellationToken.None); // a message moved twice would be delivered by now
        Assert.Equal(ids.Order(), (await ItemsAsync()).Select(i => i["eventId"].S).Order());
        // Items are keyed by eventId, so a second delivery never shows as an item: the Processor's own counts say whether
        // any event was delivered twice (a duplicate) or stored twice as new.
        var metrics = lines.Where(l => l.Contains("\"_aws\"", StringComparison.Ordinal)).Select(l => JsonNode.Parse(l[l.IndexOf('{', StringComparison.Ordinal)..])!).ToList();
        Assert.Equal(25, metrics.Sum(m => m["Processed"]!.GetValue<double>()));
        Assert.Equal(0, metrics.Sum(m => m["Duplicates"]!.GetValue<double>()));
        Assert.Equal(0, (await aws.Sqs.GetQueueAttributesAsync(stack.Resources["EventsQueue"].Ref, ["ApproximateNumberOfMessages"])).ApproximateNumberOfMessages);
    }
}
