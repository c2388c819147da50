using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.S3;
using Amazon.S3.Model;
using Pipeline.Events;
using Pipeline.Lambda;
using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;
using Pipeline.Tests;

namespace Pipeline.Processor.Tests;

/// <summary>A provisioned stack of its own, and helpers to build SQS events and read what the Processor wrote.</summary>
public sealed class ProcessorHarness : IAsyncDisposable
{
    private ProcessorHarness(LocalAws aws, ProvisionedResources stack)
    {
        Aws = aws;
        Stack = stack;
    }

    public LocalAws Aws { get; }

    public ProvisionedResources Stack { get; }

    public StringWriter Log { get; } = new();

    public static async Task<ProcessorHarness> StartAsync(IReadOnlyDictionary<string, string>? parameters = null)
    {
        var aws = await TestEnvironment.CreateClientsAsync();
        return new ProcessorHarness(aws, await TestEnvironment.ProvisionAsync(aws, parameters: parameters));
    }

    /// <summary>A stack of <paramref name="templateJson"/> (a changed copy of serverless.template) with <paramref name="parameters"/>.</summary>
    public static async Task<ProcessorHarness> StartAsync(string templateJson, IReadOnlyDictionary<string, string>? parameters)
    {
        var aws = await TestEnvironment.CreateClientsAsync();
        return new ProcessorHarness(aws, await new TemplateProvisioner(aws).ProvisionAsync(templateJson, TestEnvironment.UniqueStackName(), parameters, CancellationToken.None));
    }

    public ProcessorFunction Function(IAmazonDynamoDB? dynamoDb = null, IAmazonS3? s3 = null) =>
        new(InProcess.ProcessorOptions(Stack), dynamoDb ?? Aws.DynamoDb, s3 ?? Aws.S3, Aws.Sqs, TimeProvider.System, new FunctionLog(Log, "processor"));

    public static QueuedEvent Event(int i, string? id = null) => new()
    {
        SchemaVersion = 1,
        EventId = id ?? Guid.CreateVersion7().ToString(),
        EventType = i % 2 == 0 ? "page_view" : "signup",
        UserId = $"u-{i}",
        OccurredAt = DateTimeOffset.UtcNow.AddSeconds(-5),
        ReceivedAt = DateTimeOffset.UtcNow,
        SourceIp = "203.0.113.7",
        UserAgent = "tests",
        RequestId = $"req-{i}",
        Properties = JsonDocument.Parse($$"""{ "i": {{i}}, "tags": ["a", "b"], "nested": { "ok": true, "none": null } }""").RootElement,
    };

    public static SqsMessage Message(string body, string? messageId = null) => new()
    {
        MessageId = messageId ?? Guid.NewGuid().ToString(),
        ReceiptHandle = "handle",
        Body = body,
        // As SQS sends them: the send time is what a rejection is keyed by.
        Attributes = new Dictionary<string, string>
        {
            ["ApproximateReceiveCount"] = "1",
            ["SentTimestamp"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
        },
        EventSource = "aws:sqs",
    };

    public static string EventId(SqsMessage message) => JsonNode.Parse(message.Body!)!["eventId"]!.GetValue<string>();

    public static SqsMessage Message(QueuedEvent e) => Message(JsonSerializer.Serialize(e, EventJsonContext.Default.QueuedEvent));

    public static Task<List<string>> InvokeAsync(ProcessorFunction function, IReadOnlyList<SqsMessage> messages, TimeSpan? timeout = null) =>
        TestLambda.InvokeAsync(function.HandleAsync, messages, timeout);

    public async Task<List<Dictionary<string, AttributeValue>>> ItemsAsync() =>
        (await Aws.DynamoDb.ScanAsync(new ScanRequest { TableName = Stack["EventsTable"], ConsistentRead = true })).Items;

    public async Task<List<string>> ArchiveKeysAsync(string prefix) =>
        [.. ((await Aws.S3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Stack["ArchiveBucket"], Prefix = prefix })).S3Objects ?? []).Select(o => o.Key)];

    /// <summary>The archive's events: every line of every object under <c>events/</c>, in key order.</summary>
    public async Task<List<JsonObject>> ArchivedEventsAsync()
    {
        var events = new List<JsonObject>();
        foreach (var key in await ArchiveKeysAsync("events/"))
        {
            events.AddRange((await ReadObjectAsync(key, gzip: true)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()));
        }
        return events;
    }

    public async Task<string> ReadObjectAsync(string key, bool gzip)
    {
        using var response = await Aws.S3.GetObjectAsync(Stack["ArchiveBucket"], key);
        using var memory = new MemoryStream();
        await response.ResponseStream.CopyToAsync(memory);
        memory.Position = 0;
        using Stream stream = gzip ? new GZipStream(memory, CompressionMode.Decompress) : memory;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync();
    }

    /// <summary>The Embedded Metric Format lines the function wrote.</summary>
    public List<JsonObject> Metrics() =>
        [.. Log.ToString().Split('\n').Where(l => l.Contains("\"_aws\"", StringComparison.Ordinal)).Select(l => JsonNode.Parse(l)!.AsObject())];

    public ValueTask DisposeAsync()
    {
        Aws.Dispose();
        return ValueTask.CompletedTask;
    }
}
