using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2.Model;
using Amazon.S3.Model;
using Amazon.SQS.Model;
using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;
using Pipeline.Local.EventSourceMapping;
using Pipeline.Local.Lambda;
using Pipeline.Tests;

namespace Pipeline.Import.Tests;

/// <summary>
/// A stack of this test's own, with the imports bucket's notifications delivered (the local watcher), the import
/// function run by the local Lambda from its SQS event, and, unless told not to, the Processor on the events queue.
/// The alert topic is subscribed by a queue of the test's, which <see cref="AlertsAsync"/> reads.
/// </summary>
public sealed class ImportHarness : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _running = [];
    private readonly List<IAsyncDisposable> _functions = [];
    private string _alertQueue = "";

    private ImportHarness(LocalAws aws, ProvisionedResources stack)
    {
        Aws = aws;
        Stack = stack;
    }

    public LocalAws Aws { get; }

    public ProvisionedResources Stack { get; }

    public LocalFunction Importer { get; private set; } = null!;

    public List<string> Log { get; } = [];

    public string Bucket => Stack["ImportsBucket"];

    /// <summary>Starts the stack; <paramref name="timeout"/> replaces the import function's template Timeout.</summary>
    public static async Task<ImportHarness> StartAsync(bool processor = true, TimeSpan? timeout = null, int? visibilitySeconds = null)
    {
        var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var harness = new ImportHarness(aws, stack);
        if (visibilitySeconds is { } seconds)
        {
            var visibility = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await aws.Sqs.SetQueueAttributesAsync(stack.Resources["ImportQueue"].Ref, new() { ["VisibilityTimeout"] = visibility });
        }
        var queue = await aws.Sqs.CreateQueueAsync($"{stack.StackName}-alerts-test");
        harness._alertQueue = queue.QueueUrl;
        var arn = (await aws.Sqs.GetQueueAttributesAsync(queue.QueueUrl, ["QueueArn"])).QueueARN;
        await aws.Sns.SubscribeAsync(stack["ImportAlertTopic"], "sqs", arn, new Dictionary<string, string> { ["RawMessageDelivery"] = "true" }, CancellationToken.None);

        void Say(string line)
        {
            lock (harness.Log)
            {
                harness.Log.Add(line);
            }
        }
        harness.Importer = LocalImporter.Start(stack, aws.Endpoints, Say, d => timeout is { } t ? d with { Timeout = t } : d);
        harness._functions.Add(harness.Importer);
        harness._running.Add(LocalImporter.EventSource(aws, stack, harness.Importer.InvokeAsync, Say).RunAsync(harness._stop.Token));
        harness._running.Add(LocalImporter.Notifications(aws, stack, Say).RunAsync(harness._stop.Token));
        if (processor)
        {
            var function = LocalProcessor.Start(stack, aws.Endpoints, Say);
            harness._functions.Add(function);
            harness._running.Add(LocalProcessor.RunEventSourcesAsync(aws, stack, function.InvokeAsync, LocalProcessor.EventSourceOptions(stack), Say, harness._stop.Token));
        }
        return harness;
    }

    public static string Lines(IEnumerable<object> rows) => string.Concat(rows.Select(r => (r is string s ? s : JsonSerializer.Serialize(r)) + "\n"));

    public static byte[] Gzip(string text)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(Encoding.UTF8.GetBytes(text));
        }
        return output.ToArray();
    }

    public Task UploadAsync(string key, string text) => UploadAsync(key, Encoding.UTF8.GetBytes(text));

    /// <summary>Uploads <paramref name="bytes"/> as <paramref name="key"/>: a large file in parts, as the CLI and the AWS CLI upload it.</summary>
    public async Task UploadAsync(string key, byte[] bytes)
    {
        // Parts of 5 MB (S3's least) past 5 MB: the local S3 refuses a single PUT of about 16 MB.
        using var transfer = new Amazon.S3.Transfer.TransferUtility(Aws.S3, new Amazon.S3.Transfer.TransferUtilityConfig { MinSizeBeforePartUpload = 5 << 20 });
        await transfer.UploadAsync(new Amazon.S3.Transfer.TransferUtilityUploadRequest
        {
            BucketName = Bucket,
            Key = key,
            InputStream = new MemoryStream(bytes),
            PartSize = 5 << 20,
        });
    }

    /// <summary>The record of the object <paramref name="key"/> once it is no longer importing (or the last seen, after the timeout).</summary>
    public async Task<Dictionary<string, AttributeValue>> FinishedRecordAsync(string key, TimeSpan? timeout = null)
    {
        Dictionary<string, AttributeValue> record = [];
        await Eventually.UntilAsync(async () =>
        {
            record = await RecordAsync(key) ?? [];
            return record.TryGetValue("status", out var s) && s.S != "importing";
        }, timeout ?? TimeSpan.FromSeconds(60));
        return record;
    }

    public async Task<Dictionary<string, AttributeValue>?> RecordAsync(string key)
    {
        var items = await ScanAsync(Stack["ImportsTable"]);
        return items.FirstOrDefault(i => i["key"].S == key);
    }

    public async Task<List<Dictionary<string, AttributeValue>>> ScanAsync(string table)
    {
        var items = new List<Dictionary<string, AttributeValue>>();
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var page = await Aws.DynamoDb.ScanAsync(new ScanRequest { TableName = table, ExclusiveStartKey = start, ConsistentRead = true });
            items.AddRange(page.Items ?? []);
            start = page.LastEvaluatedKey is { Count: > 0 } last ? last : null;
        }
        while (start is not null);
        return items;
    }

    public Task<List<Dictionary<string, AttributeValue>>> EventsAsync() => ScanAsync(Stack["EventsTable"]);

    /// <summary>Waits until the events table holds <paramref name="count"/> items, then the quiet period, and returns them.</summary>
    public async Task<List<Dictionary<string, AttributeValue>>> StoredEventsAsync(int count)
    {
        List<Dictionary<string, AttributeValue>> items = [];
        await Eventually.UntilAsync(async () => (items = await EventsAsync()).Count >= count, TimeSpan.FromSeconds(60));
        await Eventually.QuietAsync();
        return await EventsAsync();
    }

    public async Task<JsonNode> ReportAsync(Dictionary<string, AttributeValue> record)
    {
        using var response = await Aws.S3.GetObjectAsync(Bucket, record["reportKey"].S);
        return JsonNode.Parse(response.ResponseStream)!;
    }

    /// <summary>The alerts published so far (each SNS message's text).</summary>
    public async Task<List<string>> AlertsAsync(int atLeast)
    {
        var alerts = new List<string>();
        await Eventually.UntilAsync(async () =>
        {
            var page = await Aws.Sqs.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = _alertQueue, MaxNumberOfMessages = 10, WaitTimeSeconds = 0 });
            alerts.AddRange((page.Messages ?? []).Select(m => m.Body));
            return alerts.Count >= atLeast;
        }, TimeSpan.FromSeconds(30));
        return alerts;
    }

    /// <summary>Every message on the import events queue, received once each (for tests without the Processor), until it stays empty.</summary>
    public async Task<List<JsonNode>> QueuedEventsAsync()
    {
        var events = new List<JsonNode>();
        var empty = 0;
        while (empty < 3)
        {
            var page = await Aws.Sqs.ReceiveMessageAsync(new ReceiveMessageRequest
            {
                QueueUrl = Stack.Resources["ImportEventsQueue"].Ref,
                MaxNumberOfMessages = 10,
                WaitTimeSeconds = 0,
                VisibilityTimeout = 600,
            });
            var messages = page.Messages ?? [];
            empty = messages.Count == 0 ? empty + 1 : 0;
            foreach (var m in messages)
            {
                events.AddRange(JsonNode.Parse(m.Body)!["events"]!.AsArray().Select(e => e!.DeepClone()));
            }
            if (messages.Count == 0)
            {
                await Task.Delay(200);
            }
        }
        return events;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_running);
        }
        catch (OperationCanceledException)
        {
        }
        foreach (var function in _functions)
        {
            await function.DisposeAsync();
        }
        _stop.Dispose();
        Aws.Dispose();
    }
}
