using System.Text.Json;
using Amazon.DynamoDBv2.Model;
using Pipeline.Archive;
using Pipeline.Cli.Commands;
using Pipeline.Events;
using Pipeline.Lambda;
using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;
using Pipeline.Local.EventSourceMapping;
using Pipeline.Storage;
using Pipeline.Tests;

namespace Pipeline.Local.Tests;

public sealed class ReplayCommandTests
{
    private static readonly DateTimeOffset Hour = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero).AddHours(-21);

    [Fact]
    public async Task Replaying_a_range_into_a_fresh_stack_restores_exactly_its_events_and_replaying_again_adds_nothing()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var source = await TestEnvironment.ProvisionAsync(aws);
        var inRange = await ArchiveAsync(aws, source, Hour.AddHours(1), 3);
        await ArchiveAsync(aws, source, Hour, 2);
        await ArchiveAsync(aws, source, Hour.AddHours(2), 2);
        // The range's hour is compacted: replay reads it as it reads a raw hour.
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(["compact", "--hour", Hour.AddHours(1).ToString("O"), "--stack", source.StackName,
            "--fauxqs", aws.Endpoints.Fauxqs.ToString(), "--endpoint", aws.Endpoints.DynamoDb.ToString()], TextWriter.Null, CancellationToken.None));
        Assert.Single(await ArchiveListing.KeysAsync(aws.S3, source["ArchiveBucket"], EventLayout.ParquetPrefix(Hour.AddHours(1)), CancellationToken.None));
        var fresh = await TestEnvironment.ProvisionAsync(aws);
        var checkpoint = Path.Combine(Path.GetTempPath(), $"replay-{Guid.NewGuid():N}.json");
        string[] Args(string checkpointFile) => ["replay", "--from", Hour.AddHours(1).ToString("O"), "--to", Hour.AddHours(2).ToString("O"),
            "--stack", fresh.StackName, "--bucket", source["ArchiveBucket"], "--fauxqs", aws.Endpoints.Fauxqs.ToString(), "--checkpoint", checkpointFile];

        using var first = new StringWriter();
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(Args(checkpoint), first, CancellationToken.None));
        await DrainAsync(aws, fresh, 3);
        using var again = new StringWriter();
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(Args(checkpoint), again, CancellationToken.None));
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(Args(checkpoint + ".other"), TextWriter.Null, CancellationToken.None)); // a second replay, from scratch
        await DrainAsync(aws, fresh, 3);

        Assert.StartsWith("Replayed 3 event(s)", first.ToString(), StringComparison.Ordinal);
        Assert.StartsWith("Replayed 0 event(s)", again.ToString(), StringComparison.Ordinal);
        Assert.Equal(inRange.Order(), (await ItemsAsync(aws, fresh)).Order()); // exactly the range, each once
        Assert.Equal(2, await Pipeline.Cli.CliCommands.RunAsync(["replay", "--stack", fresh.StackName], TextWriter.Null, CancellationToken.None)); // refuses without a range
    }

    [Fact]
    public async Task An_interrupted_replay_resumed_after_its_hour_was_compacted_sends_every_event_once()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var source = await TestEnvironment.ProvisionAsync(aws);
        var events = await ArchiveAsync(aws, source, Hour, 35); // four raw objects
        var target = await TestEnvironment.ProvisionAsync(aws);
        var checkpoint = Path.Combine(Path.GetTempPath(), $"replay-{Guid.NewGuid():N}.json");
        using var stop = new CancellationTokenSource();
        Task<ReplayCommand.Result> Replay(CancellationToken token, IProgress<Pipeline.Cli.ProgressStep>? progress) =>
            ReplayCommand.RunAsync(aws.S3, aws.Sqs, source["ArchiveBucket"], $"{target.StackName}-events", Hour, Hour.AddHours(1), null, checkpoint, progress, token);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Replay(stop.Token, new Pipeline.Cli.Reporter(_ => stop.Cancel()))); // stopped after its first batch
        // The hour's raw objects are folded into a Parquet file of another key, and deleted, before the replay resumes.
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(["compact", "--hour", Hour.ToString("O"), "--stack", source.StackName,
            "--fauxqs", aws.Endpoints.Fauxqs.ToString(), "--endpoint", aws.Endpoints.DynamoDb.ToString()], TextWriter.Null, CancellationToken.None));
        Assert.Empty(await ArchiveListing.KeysAsync(aws.S3, source["ArchiveBucket"], EventLayout.EventsPrefix(Hour), CancellationToken.None));
        var resumed = await Replay(CancellationToken.None, null);

        Assert.Equal(1, resumed.Resumed);
        Assert.Equal(events.Count - 10, resumed.Sent);
        var sent = new List<string>();
        while ((await aws.Sqs.ReceiveMessageAsync(new Amazon.SQS.Model.ReceiveMessageRequest { QueueUrl = target.Resources["EventsQueue"].Ref, MaxNumberOfMessages = 10 })).Messages
            is { Count: > 0 } messages)
        {
            sent.AddRange(messages.Select(m => ArchiveLine.Parse(m.Body)!.EventId));
        }
        Assert.Equal(events.Order(), sent.Order()); // every event, once, across the two runs
    }

    [Fact]
    public async Task A_dry_run_counts_what_would_be_sent_and_sends_nothing()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var source = await TestEnvironment.ProvisionAsync(aws);
        await ArchiveAsync(aws, source, Hour, 12);
        var checkpoint = Path.Combine(Path.GetTempPath(), $"replay-{Guid.NewGuid():N}.json");
        using var output = new StringWriter();

        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(
            [
                "replay", "--from", Hour.ToString("O"), "--to", Hour.AddHours(1).ToString("O"), "--dry-run",
                "--stack", source.StackName, "--fauxqs", aws.Endpoints.Fauxqs.ToString(), "--checkpoint", checkpoint,
            ],
            output,
            CancellationToken.None));

        Assert.StartsWith("Would replay 12 event(s) from 1 hour(s)", output.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(checkpoint));
        var queued = await aws.Sqs.GetQueueAttributesAsync(source.Resources["EventsQueue"].Ref, ["ApproximateNumberOfMessages"]);
        Assert.Equal(0, queued.ApproximateNumberOfMessages);
    }

    [Fact]
    public async Task A_checkpoint_of_the_earlier_form_is_refused_with_what_to_do()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var source = await TestEnvironment.ProvisionAsync(aws);
        var checkpoint = Path.Combine(Path.GetTempPath(), $"replay-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(checkpoint, """{ "events/dt=2026-12-01/hour=10/abc.jsonl.gz": 20 }""");

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => ReplayCommand.RunAsync(aws.S3, aws.Sqs, source["ArchiveBucket"], $"{source.StackName}-events",
            Hour, Hour.AddHours(1), null, checkpoint, null, CancellationToken.None));
        Assert.Contains("Delete it", e.Message, StringComparison.Ordinal);

        // A checkpoint of another range is refused too: its finished hours are not this range's.
        File.Delete(checkpoint);
        var eventsQueue = $"{source.StackName}-events";
        await ReplayCommand.RunAsync(aws.S3, null, source["ArchiveBucket"], eventsQueue, Hour, Hour.AddHours(1), null, checkpoint, null, CancellationToken.None);
        Assert.False(File.Exists(checkpoint)); // a dry run writes none
        await ReplayCommand.RunAsync(aws.S3, aws.Sqs, source["ArchiveBucket"], eventsQueue, Hour, Hour.AddHours(1), null, checkpoint, null, CancellationToken.None);
        var other = await Assert.ThrowsAsync<InvalidDataException>(() =>
            ReplayCommand.RunAsync(aws.S3, aws.Sqs, source["ArchiveBucket"], eventsQueue, Hour, Hour.AddHours(2), null, checkpoint, null, CancellationToken.None));
        Assert.Contains("the checkpoint of another replay", other.Message, StringComparison.Ordinal);
    }

    // Events received in the hour, stored and archived by the real Processor code in batches of ten: an object per batch.
    private static async Task<List<string>> ArchiveAsync(LocalAws aws, ProvisionedResources stack, DateTimeOffset hour, int count)
    {
        var function = InProcess.Processor(aws, stack, new FunctionLog(TextWriter.Null, "processor"));
        var events = Enumerable.Range(0, count).Select(i => new QueuedEvent
        {
            SchemaVersion = QueuedEvent.CurrentSchemaVersion,
            EventId = Guid.CreateVersion7().ToString(),
            EventType = "page_view",
            UserId = $"u{i}",
            OccurredAt = hour.AddMinutes(i),
            ReceivedAt = hour.AddMinutes(i),
            RequestId = "r",
        }).ToList();
        foreach (var batch in events.Chunk(10))
        {
            Assert.Empty(await TestLambda.InvokeAsync(function.HandleAsync,
                [.. batch.Select(e => new SqsMessage { MessageId = Guid.NewGuid().ToString(), Body = JsonSerializer.Serialize(e, EventJsonContext.Default.QueuedEvent) })]));
        }
        return [.. events.Select(e => e.EventId)];
    }

    private static async Task DrainAsync(LocalAws aws, ProvisionedResources stack, int expected)
    {
        await using var processor = LocalProcessor.Start(stack, aws.Endpoints, _ => { });
        var source = LocalProcessor.EventSource(aws, stack, processor.InvokeAsync, new EventSourceOptions(), _ => { });
        // Until the queue is empty and every event is stored.
        Assert.True(await Eventually.UntilAsync(
            async () => await source.PollOnceAsync(CancellationToken.None) == 0 && (await ItemsAsync(aws, stack)).Count >= expected,
            TimeSpan.FromSeconds(30)));
    }

    private static async Task<List<string>> ItemsAsync(LocalAws aws, ProvisionedResources stack) =>
        [.. (await aws.DynamoDb.ScanAsync(new ScanRequest { TableName = stack["EventsTable"], ConsistentRead = true })).Items.Select(i => i["eventId"].S)];
}
