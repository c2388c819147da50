using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.SQS.Model;
using Pipeline.Events;
using Pipeline.Lambda;
using Pipeline.Local.Environment;
using Pipeline.Local.Hosting;
using Pipeline.Local.Provisioning;
using Pipeline.Sns;
using Pipeline.Tests;

namespace Pipeline.Aggregator.Tests;

/// <summary>A clock the test sets (a double for time only; everything else is real).</summary>
public sealed class TestClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

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

    public AggregatorOptions Options(TimeSpan window) => LocalAggregator.Options(Stack, window) with { Settle = TimeSpan.FromSeconds(30) };

    public AggregatorFunction Function(TimeSpan window, TimeProvider clock, SnsClient? sns = null) => Function(Options(window), clock, sns);

    public AggregatorFunction Function(AggregatorOptions options, TimeProvider clock, SnsClient? sns = null) =>
        new(options, Aws.DynamoDb, Aws.S3, Aws.Sqs, sns ?? Aws.Sns, clock, new FunctionLog(TextWriter.Null, "aggregator"));

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

    /// <summary>Stores events by handing them to the real Processor as SQS messages.</summary>
    public async Task StoreAsync(IEnumerable<QueuedEvent> events) => await StoreRawAsync(events.Select(e => JsonSerializer.Serialize(e, EventJsonContext.Default.QueuedEvent)));

    public async Task StoreRawAsync(IEnumerable<string> bodies)
    {
        var function = LocalProcessor.Function(Aws, Stack, new FunctionLog(TextWriter.Null, "processor"));
        var messages = bodies.Select(b => new SqsMessage { MessageId = Guid.NewGuid().ToString(), Body = b }).ToList();
        foreach (var batch in messages.Chunk(10))
        {
            Assert.Empty(await TestLambda.InvokeAsync(function.HandleAsync, batch));
        }
    }

    /// <summary>Puts events on the archive queue as the Processor does once it has stored them.</summary>
    public async Task ArchiveAsync(IEnumerable<QueuedEvent> events)
    {
        var bodies = Pipeline.Events.EventBatchMessage.Pack(events.Select(e => JsonSerializer.Serialize(e, EventJsonContext.Default.QueuedEvent)));
        foreach (var body in bodies)
        {
            await Aws.Sqs.SendMessageAsync(Stack.Resources["ArchiveQueue"].Ref, body);
        }
    }

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
