using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2.Model;
using Amazon.S3.Model;
using Amazon.SQS.Model;
using Pipeline.Events;
using Pipeline.Local.EventSourceMapping;
using Pipeline.Processor;
using Pipeline.Storage;

namespace Pipeline.Bench;

/// <summary>
/// Events/s through the local SQS event source and the Processor (receive, conditional puts, the S3 archive object,
/// delete) next to the raw conditional-PutItem rate of DynamoDB Local at the same write concurrency, in one run: with
/// a message per event (as POST /events sends them) and with batch messages (as POST /events/batch sends them).
/// </summary>
internal static class ProcessorBenchmark
{
    public static async Task<string> RunAsync(int events)
    {
        await using var bench = await BenchStack.StartAsync();
        var table = bench.Stack["EventsTable"];
        var options = LocalProcessor.EventSourceOptions(bench.Stack);
        // The Processor writes up to 10 events of a batch at once, on each of its concurrent pollers.
        var writeConcurrency = options.Concurrency * options.BatchSize;

        // Raw: conditional puts of the same item shape, at the Processor's write concurrency,
        // after a warm-up of the same size (DynamoDB Local's JVM is slow until its JIT has run).
        var retention = TimeSpan.FromDays(90);
        var raw = Enumerable.Range(0, 2 * events).Select(i => EventStore.ToItem(Event(-1 - i), retention)).ToList();
        var next = -1;
        await PutAllAsync(raw[..events]);
        raw = raw[events..];
        next = -1;
        var cpu = CpuAccount.Sample();
        var rawWatch = Stopwatch.StartNew();
        await PutAllAsync(raw);
        var rawRate = events / rawWatch.Elapsed.TotalSeconds;
        var rawCpu = CpuAccount.Sample().Since(cpu);
        Console.WriteLine($"raw: {rawRate:0} puts/s");

        async Task PutAllAsync(List<Dictionary<string, AttributeValue>> items) =>
            await Task.WhenAll(Enumerable.Range(0, writeConcurrency).Select(_ => Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < items.Count)
                {
                    await bench.Aws.DynamoDb.PutItemAsync(new PutItemRequest { TableName = table, Item = items[i], ConditionExpression = "attribute_not_exists(eventId)" });
                }
            })));

        // The floor: the Processor's own storage work and nothing else, at the event source's shape and concurrency.
        // Batches of the template's size, on as many workers as invocations may run at once; each batch's conditional
        // puts all at once (as the Processor writes a batch), then the batch's archive object: gzip JSON lines, one
        // PUT with If-None-Match: *. No SQS receive or delete, no Runtime API, no event JSON parsed, no metric line.
        var bucket = bench.Stack["ArchiveBucket"];
        var floorEvents = Enumerable.Range(0, 2 * events).Select(i => Event(-1 - (2 * events) - i)).ToList();
        await FloorAsync(floorEvents[..events]);
        cpu = CpuAccount.Sample();
        var floorWatch = Stopwatch.StartNew();
        await FloorAsync(floorEvents[events..]);
        var floorRate = events / floorWatch.Elapsed.TotalSeconds;
        var floorCpu = CpuAccount.Sample().Since(cpu);
        Console.WriteLine($"floor: {floorRate:0} events/s");

        async Task FloorAsync(List<QueuedEvent> batchEvents)
        {
            var batches = batchEvents.Chunk(options.BatchSize).ToList();
            var nextBatch = -1;
            await Task.WhenAll(Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(async () =>
            {
                int b;
                while ((b = Interlocked.Increment(ref nextBatch)) < batches.Count)
                {
                    var batch = batches[b];
                    await Task.WhenAll(batch.Select(e => bench.Aws.DynamoDb.PutItemAsync(new PutItemRequest
                    {
                        TableName = table,
                        Item = EventStore.ToItem(e, retention),
                        ConditionExpression = "attribute_not_exists(eventId)",
                    })));
                    var lines = batch.Select(ArchiveLine.Serialize).ToList();
                    using var body = new MemoryStream();
                    using (var gzip = new GZipStream(body, CompressionLevel.Fastest, leaveOpen: true))
                    {
                        foreach (var line in lines)
                        {
                            gzip.Write(line);
                            gzip.WriteByte((byte)'\n');
                        }
                    }
                    body.Position = 0;
                    await bench.Aws.S3.PutObjectAsync(new PutObjectRequest
                    {
                        BucketName = bucket,
                        Key = $"{EventLayout.EventsPrefix(batch[0].ReceivedAt)}{EventArchive.ObjectName(lines)}.jsonl.gz",
                        InputStream = body,
                        ContentType = "application/x-ndjson",
                        IfNoneMatch = "*",
                    });
                }
            })));
        }

        // Through the pipeline: preload the queue, then let the event source drain it; first a warm-up of the same size
        // (as for the raw puts: the processes' JIT and connections warm up, as a busy Lambda environment's are).
        var queueUrl = bench.Stack.Resources["EventsQueue"].Ref;
        async Task PreloadAsync(int first, bool batched = false) => await Parallel.ForEachAsync(
            batched
                ? EventBatchMessage.Pack(Enumerable.Range(first, events).Select(i => JsonSerializer.Serialize(Event(i), EventJsonContext.Default.QueuedEvent))).Chunk(3)
                : Enumerable.Range(first, events).Select(i => JsonSerializer.Serialize(Event(i), EventJsonContext.Default.QueuedEvent)).Chunk(10),
            new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (chunk, ct) =>
            await bench.Aws.Sqs.SendMessageBatchAsync(new SendMessageBatchRequest
            {
                QueueUrl = queueUrl,
                Entries = [.. chunk.Select((b, i) => new SendMessageBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), b))],
            }, ct));

        var metrics = new ProcessedCounter();
        // The artifact that deploys (Release, ReadyToRun), built for this machine.
        var publishFolder = Path.Combine(Path.GetTempPath(), $"pipeline-bench-{Guid.NewGuid():N}");
        var published = await Pipeline.Local.Lambda.LocalLambda.PublishAsync("src/Processor", "linux-x64", publishFolder);
        using var cleanup = new TemporaryFolder(publishFolder);
        await using var processor = LocalProcessor.Start(bench.Stack, bench.Aws.Endpoints, metrics.Read, taskRoot: published);
        var source = LocalProcessor.EventSource(bench.Aws, bench.Stack, processor.InvokeAsync, options, Console.WriteLine);
        using var stop = new CancellationTokenSource();
        var running = source.RunAsync(stop.Token);
        async Task<TimeSpan> DrainAsync(long target)
        {
            var watch = Stopwatch.StartNew();
            while (metrics.Processed < target && watch.Elapsed < TimeSpan.FromMinutes(10))
            {
                await Task.Delay(20);
            }
            return watch.Elapsed;
        }
        await PreloadAsync(events);
        await DrainAsync(events);
        metrics.Reset();
        await PreloadAsync(2 * events);
        cpu = CpuAccount.Sample();
        var elapsed = await DrainAsync(events);
        var processorCpu = CpuAccount.Sample().Since(cpu);
        var rate = metrics.Processed / elapsed.TotalSeconds;
        var (batches, failed, mean) = (metrics.Batches, metrics.Failed, metrics.MeanBatchMilliseconds);
        metrics.Reset();
        await PreloadAsync(3 * events, batched: true);
        cpu = CpuAccount.Sample();
        var batchedElapsed = await DrainAsync(events);
        var batchedCpu = CpuAccount.Sample().Since(cpu);
        var batchedRate = metrics.Processed / batchedElapsed.TotalSeconds;
        await stop.CancelAsync();
        await running;

        return string.Join('\n',
            FormattableString.Invariant($"{events} events each way, one run, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores."),
            string.Create(CultureInfo.InvariantCulture, $"Event source as in serverless.template: batch {options.BatchSize}, "
                + $"window {options.BatchingWindow.TotalSeconds:0.#} s, concurrency {options.Concurrency}; raw puts at the same write concurrency ({writeConcurrency})."),
            "The Processor is the published program (Release, ReadyToRun, linux-x64), in its own processes under the local Runtime API, as Lambda runs it; "
                + "every row measured after a warm-up of the same size.",
            "",
            "| measurement | events/s | batches | failed | mean batch in the function |",
            "|---|---:|---:|---:|---:|",
            FormattableString.Invariant($"| raw DynamoDB Local conditional PutItem, {writeConcurrency} at once | {rawRate:0} | - | - | - |"),
            string.Create(CultureInfo.InvariantCulture, $"| floor: the same conditional puts in batches of {options.BatchSize}, {options.Concurrency} batches at once, "
                + $"each batch then one S3 PUT (gzip JSON lines, If-None-Match: *) | {floorRate:0} | {(events + options.BatchSize - 1) / options.BatchSize} | - | - |"),
            string.Create(CultureInfo.InvariantCulture, $"| SQS → local event source → Processor processes via the local Runtime API (conditional puts + S3 archive object), "
                + $"a message per event | {rate:0} | {batches} | {failed} | {mean:0.0} ms |"),
            string.Create(CultureInfo.InvariantCulture, $"| the same, batch messages of up to 100 events (as POST /events/batch sends them) | {batchedRate:0} | "
                + $"{metrics.Batches} | {metrics.Failed} | {metrics.MeanBatchMilliseconds:0.0} ms |"),
            "",
            string.Create(CultureInfo.InvariantCulture, $"- A message per event, the Processor reaches **{rate / floorRate:0.00}×** its floor (target 0.9×) "
                + $"and **{rate / rawRate:0.00}×** the raw conditional-put rate."),
            string.Create(CultureInfo.InvariantCulture, $"- With batch messages: **{batchedRate / floorRate:0.00}×** the floor and **{batchedRate / rawRate:0.00}×** the raw "
                + $"rate (not a like-for-like ratio: a batch message carries up to 100 events, so an invocation stores up to 1,000 events and writes one archive object for them, "
                + $"where the floor writes one per 10 events)."),
            string.Create(CultureInfo.InvariantCulture, $"- The floor is the Processor's own storage work at the event source's shape: "
                + $"{options.BatchSize} conditional PutItem at once per batch, {options.Concurrency} batches at once ({writeConcurrency} writes in flight at most), "
                + $"and after each batch's puts one S3 PutObject of its gzip JSON lines with If-None-Match: *, from one process (the benchmark's) with the same SDK clients. "
                + $"It excludes what the pipeline adds around that work: SQS ReceiveMessage and DeleteMessageBatch (fauxqs), the batching window, "
                + $"the Lambda Runtime API (next, response) and its JSON event, the Processor's parsing and validation of each record, "
                + $"the ALL_OLD return on a failed condition, the EMF metric line, and a second process per invocation slot."),
            "",
            "Where the cores went in each measured phase: CPU milliseconds per event, by process (the benchmark's own process",
            "holds the load client, the local event source and the local Runtime API; `machine busy` is every process on the",
            "machine, others' included, and its share of the 2 cores).",
            "",
            CpuTable(events, [("raw puts", rawCpu), ("floor", floorCpu), ("Processor, a message per event", processorCpu), ("Processor, batch messages", batchedCpu)]),
            "") + "\n";
    }

    private static string CpuTable(int events, (string Name, (Dictionary<string, double> Seconds, TimeSpan Wall) Cpu)[] phases)
    {
        string[] roles = ["bench", "DynamoDB Local", "fauxqs", "Processor processes", "machine busy"];
        var lines = new List<string>
        {
            $"| phase | {string.Join(" | ", roles)} | machine busy, of {Environment.ProcessorCount} cores |",
            $"|---|{string.Concat(Enumerable.Repeat("---:|", roles.Length + 1))}",
        };
        foreach (var (name, (seconds, wall)) in phases)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"| {name} | "
                + $"{string.Join(" | ", roles.Select(r => seconds.TryGetValue(r, out var s) ? (1000 * s / events).ToString("0.00", CultureInfo.InvariantCulture) : "-"))} | "
                + $"{seconds.GetValueOrDefault("machine busy") / wall.TotalSeconds / Environment.ProcessorCount:P0} |"));
        }
        return string.Join('\n', lines);
    }

    private static QueuedEvent Event(int i) => new()
    {
        SchemaVersion = 1,
        EventId = $"bench-{i + 100_000_000:D9}",
        EventType = i % 3 == 0 ? "signup" : "page_view",
        UserId = $"u-{i % 1000}",
        OccurredAt = DateTimeOffset.UtcNow,
        ReceivedAt = DateTimeOffset.UtcNow,
        SourceIp = "127.0.0.1",
        UserAgent = "bench",
        RequestId = "bench",
        Properties = JsonDocument.Parse("""{"path":"/pricing","referrer":"https://example.com","plan":"pro"}""").RootElement,
    };

    private sealed class TemporaryFolder(string path) : IDisposable
    {
        public void Dispose() => Directory.Delete(path, recursive: true);
    }

    /// <summary>Sums the metric lines the Processor processes write (the same numbers CloudWatch would get).</summary>
    private sealed class ProcessedCounter
    {
        private long _processed;
        private long _batches;
        private long _failed;
        private long _batchMicroseconds;

        public long Processed => Interlocked.Read(ref _processed);

        public long Batches => Interlocked.Read(ref _batches);

        public long Failed => Interlocked.Read(ref _failed);

        public void Reset()
        {
            Interlocked.Exchange(ref _processed, 0);
            Interlocked.Exchange(ref _batches, 0);
            Interlocked.Exchange(ref _failed, 0);
            Interlocked.Exchange(ref _batchMicroseconds, 0);
        }

        public double MeanBatchMilliseconds => Interlocked.Read(ref _batchMicroseconds) / 1000.0 / Math.Max(1, Batches);

        public void Read(string value)
        {
            if (value.Contains("\"_aws\"", StringComparison.Ordinal) && JsonNode.Parse(value) is JsonObject line)
            {
                Interlocked.Add(ref _processed, (long)line[nameof(Processed)]!.GetValue<double>());
                Interlocked.Add(ref _failed, (long)line[nameof(Failed)]!.GetValue<double>());
                Interlocked.Increment(ref _batches);
                Interlocked.Add(ref _batchMicroseconds, (long)(line["BatchDuration"]!.GetValue<double>() * 1000));
            }
        }
    }
}
