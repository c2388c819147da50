using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.SQS.Model;
using Pipeline.Archive;
using Pipeline.Events;
using Pipeline.Lambda;
using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;
using Pipeline.Sns;
using Pipeline.Tests;

namespace Pipeline.Aggregator.Tests;

/// <summary>A provisioned stack with a queue subscribed to the summary topic, and helpers to store events through the real Processor.</summary>
public sealed class AggregatorHarness : IAsyncDisposable
{
    private AggregatorHarness(LocalAws aws, ProvisionedResources stack, string inboxUrl)
    {
        Aws = aws;
        Stack = stack;
        InboxUrl = inboxUrl;
    }

    public LocalAws Aws { get; }

    public ProvisionedResources Stack { get; }

    public string InboxUrl { get; }

    public static async Task<AggregatorHarness> StartAsync()
    {
        var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var inbox = (await aws.Sqs.CreateQueueAsync($"{stack.StackName}-inbox")).QueueUrl;
        var inboxArn = (await aws.Sqs.GetQueueAttributesAsync(inbox, ["QueueArn"])).QueueARN;
        await aws.Sns.SubscribeAsync(stack["SummaryTopic"], "sqs", inboxArn, new Dictionary<string, string>(), CancellationToken.None);
        return new AggregatorHarness(aws, stack, inbox);
    }

    public AggregatorOptions Options(TimeSpan window) => InProcess.AggregatorOptions(Stack, window) with { Settle = TimeSpan.FromSeconds(30) };

    public AggregatorFunction Function(TimeSpan window, TimeProvider clock, SnsClient? sns = null) => Function(Options(window), clock, sns);

    public AggregatorFunction Function(AggregatorOptions options, TimeProvider clock, SnsClient? sns = null, Func<RunStep, CancellationToken, Task>? runPause = null) =>
        new(options, Aws.DynamoDb, Aws.S3, Aws.Sqs, sns ?? Aws.Sns, clock, new FunctionLog(TextWriter.Null, "aggregator"), runPause: runPause);

    public static QueuedEvent Event(DateTimeOffset receivedAt, string type, string? user = null, string? anonymous = null) => new()
    {
        SchemaVersion = 1,
        EventId = Guid.CreateVersion7().ToString(),
        EventType = type,
        UserId = user,
        AnonymousId = anonymous,
        OccurredAt = receivedAt,
        ReceivedAt = receivedAt,
        RequestId = "test",
    };

    /// <summary>
    /// Stores events by handing them to the real Processor as SQS messages. <paramref name="processorLookback"/> replaces
    /// the template's look-back for the Processor: a long one leaves no late marker, zero leaves one for every hour.
    /// </summary>
    public async Task StoreAsync(IEnumerable<QueuedEvent> events, TimeSpan? processorLookback = null) =>
        await StoreRawAsync(events.Select(e => JsonSerializer.Serialize(e, EventJsonContext.Default.QueuedEvent)), processorLookback);

    public async Task StoreRawAsync(IEnumerable<string> bodies, TimeSpan? processorLookback = null)
    {
        var options = InProcess.ProcessorOptions(Stack);
        var function = new Pipeline.Processor.ProcessorFunction(options with { Lookback = processorLookback ?? options.Lookback },
            Aws.DynamoDb, Aws.S3, Aws.Sqs, TimeProvider.System, new FunctionLog(TextWriter.Null, "processor"));
        var messages = bodies.Select(b => new SqsMessage { MessageId = Guid.NewGuid().ToString(), Body = b }).ToList();
        foreach (var batch in messages.Chunk(10))
        {
            Assert.Empty(await TestLambda.InvokeAsync(function.HandleAsync, batch));
        }
    }

    /// <summary>Writes events to the archive with the Processor's own code, as one batch (without storing them in the table).</summary>
    public async Task ArchiveAsync(IReadOnlyList<QueuedEvent> events) =>
        await new Pipeline.Processor.EventArchive(Aws.S3, Stack["ArchiveBucket"], TimeSpan.FromDays(7), TimeProvider.System)
            .WriteAsync(events, DateTimeOffset.UtcNow, CancellationToken.None);

    /// <summary>Each distinct eventId of the hour, raw and compacted, as the events view reads them (DuckDB in <paramref name="folder"/>).</summary>
    public async Task<List<string>> EventIdsAsync(DateTimeOffset hour, string folder)
    {
        using var downloads = new ArchiveDownloads(Aws.S3, Stack["ArchiveBucket"], Path.Combine(folder, $"read-{Guid.NewGuid():N}"));
        using var duckDb = DuckDb.Open(Path.Combine(folder, $"read-{Guid.NewGuid():N}.duckdb"), DuckDbLimits.ForFunction(512));
        DuckDb.DefineViews(duckDb, await downloads.DownloadAsync(hour, CancellationToken.None));
        using var command = duckDb.CreateCommand();
        command.CommandText = "SELECT \"eventId\" FROM events ORDER BY \"eventId\"";
        using var reader = command.ExecuteReader();
        var ids = new List<string>();
        while (reader.Read())
        {
            ids.Add(reader.GetString(0));
        }
        return ids;
    }

    /// <summary>The summaries table's window items, oldest first.</summary>
    public async Task<List<Dictionary<string, Amazon.DynamoDBv2.Model.AttributeValue>>> SummaryItemsAsync() =>
        (await Aws.DynamoDb.QueryAsync(new Amazon.DynamoDBv2.Model.QueryRequest
        {
            TableName = Stack["SummariesTable"],
            KeyConditionExpression = "series = :s",
            ExpressionAttributeValues = new() { [":s"] = new Amazon.DynamoDBv2.Model.AttributeValue("summaries") },
            ConsistentRead = true,
        })).Items;

    /// <summary>The keys under a prefix of the archive bucket.</summary>
    public async Task<List<string>> KeysAsync(string prefix) =>
        [.. (await ArchiveListing.ListAsync(Aws.S3, Stack["ArchiveBucket"], prefix, CancellationToken.None)).Select(o => o.Key)];

    /// <summary>Summaries that arrived in the subscribed queue: the SNS envelopes.</summary>
    public async Task<List<JsonObject>> ReceivedAsync(int waitSeconds = 1)
    {
        var envelopes = new List<JsonObject>();
        while (true)
        {
            var page = await Aws.Sqs.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = InboxUrl, MaxNumberOfMessages = 10, WaitTimeSeconds = waitSeconds });
            if (page.Messages is not { Count: > 0 })
            {
                return envelopes;
            }
            envelopes.AddRange(page.Messages.Select(m => JsonNode.Parse(m.Body)!.AsObject()));
            foreach (var m in page.Messages)
            {
                await Aws.Sqs.DeleteMessageAsync(InboxUrl, m.ReceiptHandle);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        Aws.Dispose();
        return ValueTask.CompletedTask;
    }
}
