using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Amazon.DynamoDBv2.Model;
using Amazon.S3.Transfer;
using Amazon.SQS.Model;
using Pipeline.ApiKeys;
using Pipeline.Events;
using Pipeline.Importer;
using Pipeline.Intake;
using Pipeline.Local.EventSourceMapping;
using Pipeline.Local.Lambda;
using Pipeline.Plans;
using Pipeline.Tests;

namespace Pipeline.Bench;

/// <summary>
/// A file of many rows imported as deployed: the published import function in its own process under the local Runtime
/// API, with the template's Timeout, held by a cgroup to its MemorySize and MemorySize/1,769 of a core, notified by the
/// local S3 notifications and fed by its SQS event source. Measured three ways, in one run:
/// (1) raw: the same batch messages (the import's own packing of the same rows) sent with SendMessageBatch, one call at a
/// time as one import does, from this process; (2) the import alone, upload to closed record; (3) the import again (a copy
/// of the file) with the Processor on both of its queues and live events through the Api, whose freshness (202 → readable
/// with a consistent GetItem) is what the import must not spoil. The file is of one format (--format): JSON Lines of events,
/// CSV, or a Segment archive under a write key's id; the same rows in each.
/// </summary>
internal static class ImportBenchmark
{
    private static readonly string[] Types = ["page_view", "signup", "purchase", "search", "checkout.completed"];

    /// <summary>Runs the benchmark on a file of <paramref name="rows"/> rows in <paramref name="format"/>: events, csv or segment.</summary>
    public static async Task<string> RunAsync(int rows, int liveRate, int? memorySize, string format = "events", int? importWriteRate = null)
    {
        var suffix = format switch
        {
            "events" => ".jsonl",
            "csv" => ".csv",
            "segment" => ".jsonl",
            _ => throw new ArgumentException($"unknown format '{format}': events, csv or segment"),
        };
        var folder = Path.Combine(Path.GetTempPath(), $"pipeline-import-bench-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            var taskRoot = await LocalLambda.PublishAsync("src/Importer", "linux-x64", Path.Combine(folder, "publish"), ["PublishReadyToRun=true"]);
            var file = Path.Combine(folder, $"rows{suffix}");
            var bytes = await WriteRowsAsync(file, rows, format);
            Console.WriteLine(FormattableString.Invariant($"{rows:N0} {format} rows, {bytes / 1048576.0:0} MB"));
            await using var bench = await BenchStack.StartAsync(
                importWriteRate is { } w ? new Dictionary<string, string> { ["ImportWriteRate"] = w.ToString(CultureInfo.InvariantCulture) } : null);
            var pace = bench.Stack.FunctionEnvironment(LocalProcessor.LogicalId)["Imports__WriteRate"];
            var definition = LocalLambda.Definition(bench.Stack, LocalImporter.LogicalId, bench.Aws.Endpoints, taskRoot: taskRoot);
            definition = definition with { MemorySize = memorySize ?? definition.MemorySize }; // --memory: another size than the template's, to choose it

            // A Segment archive goes under the id of the write key its messages were sent with: a key of the bench stack's.
            var folderKey = "uploads/";
            string? keyHash = null;
            if (format == "segment")
            {
                var (writeKey, record) = await new ApiKeyRegistry(bench.Aws.DynamoDb, bench.Stack["ApiKeysTable"]).CreateAsync("import-bench-segment", CancellationToken.None);
                (folderKey, keyHash) = ($"{ImportFiles.SegmentPrefix}{record.KeyId}/", ApiKeyRegistry.Hash(writeKey));
            }
            var raw = await RawAsync(bench, file, format, $"{folderKey}rows{suffix}", keyHash);
            Console.WriteLine($"raw: {raw}");
            var alone = await ImportAsync(bench, definition, file, $"{folderKey}alone{suffix}", folder, liveRate: 0);
            Console.WriteLine($"import alone: {alone}");
            await bench.Aws.Sqs.PurgeQueueAsync(bench.Stack.Resources["ImportEventsQueue"].Ref);
            var live = liveRate > 0 ? await ImportAsync(bench, definition, file, $"{folderKey}live{suffix}", folder, liveRate) : null;
            Console.WriteLine($"import with live traffic: {live}");
            return Render(format, rows, bytes, definition, raw, alone, live, liveRate, pace);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private sealed record Raw(TimeSpan Sending, int Messages, int Calls)
    {
        public override string ToString() => FormattableString.Invariant($"{Messages} messages in {Calls} calls, {Sending.TotalSeconds:0.0} s sending");
    }

    private sealed record Imported(TimeSpan Elapsed, long Accepted, int Invocations, int Continuations, long PeakRssBytes, long CgroupPeakBytes,
        Freshness? Live, long StoredDuring, string? Error)
    {
        public Freshness? Before { get; init; }

        // Live events after the record's close, while the Processor drains the import events queue; imported events stored meanwhile.
        public Freshness? Draining { get; init; }

        public long StoredDraining { get; init; }

        public double DrainSeconds { get; init; }

        public long LiveQueuePeak { get; init; }

        // CPU seconds by process role from the upload's end to the record's close, and the function cgroup's 100 ms periods (ran, throttled).
        public Dictionary<string, double> Cpu { get; init; } = [];

        public (long Periods, long Throttled) Quota { get; init; }

        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"{Accepted:N0} accepted in {Elapsed.TotalSeconds:0.0} s, {Invocations} invocation(s), {Continuations} continuation(s), "
            + $"peak RSS {PeakRssBytes / 1048576.0:0} MB, {Live}{(Error is null ? "" : $" ERROR {Error}")}");
    }

    private sealed record Freshness(int Sent, int Readable, double P50Ms, double P95Ms, double MaxMs)
    {
        public override string ToString() => FormattableString.Invariant($"live {Readable}/{Sent} readable, p50 {P50Ms:0} ms, p95 {P95Ms:0} ms, max {MaxMs:0} ms");
    }

    // One generated row: who, when, and the draws of its properties (Variant: which properties; A to D: their values).
    private readonly record struct Row(int Number, string Type, string? UserId, string? AnonymousId, DateTimeOffset At, int Variant, int A, int B, int C, int D);

    // Distinct rows without an eventId (their ids are derived from their bytes: the import's most expensive case, and the
    // one whose occurrence state grows), over the last year: the same rows in every format.
    private static IEnumerable<Row> Rows(int rows)
    {
        var random = new Random(7);
        var start = DateTimeOffset.UtcNow.AddDays(-365);
        for (var i = 0; i < rows; i++)
        {
            var anonymous = i % 3 == 0;
            var user = random.Next(anonymous ? 70_000 : 50_000);
            var at = start.AddSeconds(i * (365.0 * 86400 / rows));
            var variant = i % 4;
            var (a, b, c, d) = variant switch
            {
                0 => (random.Next(5000), random.Next(100_000), random.Next(1000), 0),
                1 => (random.Next(1, 500), random.Next(100), random.Next(100), random.Next(1, 4)),
                2 => (random.Next(1000), random.Next(100), random.Next(36, 47), 0),
                _ => (random.Next(1, 50), random.Next(2), 0, 0),
            };
            yield return new Row(i, Types[i % Types.Length], anonymous ? null : $"user-{user}", anonymous ? $"anon-{user}" : null, at, variant, a, b, c, d);
        }
    }

    // The row's properties as JSON members (a JSON line of them and the event's fields is about 180 bytes).
    private static string JsonProperties(Row r) => r.Variant switch
    {
        0 => $"\"path\":\"/catalog/{r.A}/item-{r.B}\",\"referrer\":\"https://example.com/s?q={r.C}\"",
        1 => $"\"amount\":{r.A}.{r.B:D2},\"currency\":\"EUR\",\"items\":[{{\"sku\":\"S-{r.C}\",\"qty\":{r.D}}}]",
        2 => $"\"query\":\"winter boots {r.A}\",\"results\":{r.B},\"filters\":{{\"inStock\":true,\"size\":{r.C}}}",
        _ => $"\"plan\":\"team\",\"seats\":{r.A},\"trial\":{(r.B == 0 ? "true" : "false")}",
    } + $",\"row\":{r.Number}";

    private static string Time(DateTimeOffset at) => at.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static string EventLine(Row r) => $"{{\"eventType\":\"{r.Type}\",{(r.UserId is { } u ? $"\"userId\":\"{u}\"" : $"\"anonymousId\":\"{r.AnonymousId}\"")},"
        + $"\"occurredAt\":\"{Time(r.At)}\",\"properties\":{{{JsonProperties(r)}}}}}";

    // A CSV export's columns: the event's fields, then every property any row has, typed and nested; a row leaves the others empty.
    private const string CsvHeader = "eventType,userId,anonymousId,occurredAt,properties.path,properties.referrer,properties.amount:number,properties.currency,"
        + "properties.items:json,properties.query,properties.results:number,properties.filters.inStock:boolean,properties.filters.size:number,"
        + "properties.plan,properties.seats:number,properties.trial:boolean,properties.row:number";

    private static string CsvLine(Row r) => $"{r.Type},{r.UserId},{r.AnonymousId},{Time(r.At)}," + r.Variant switch
    {
        0 => $"/catalog/{r.A}/item-{r.B},https://example.com/s?q={r.C},,,,,,,,,,",
        1 => $",,{r.A}.{r.B:D2},EUR,\"[{{\"\"sku\"\":\"\"S-{r.C}\"\",\"\"qty\"\":{r.D}}}]\",,,,,,,",
        2 => $",,,,,winter boots {r.A},{r.B},true,{r.C},,,",
        _ => $",,,,,,,,,team,{r.A},{(r.B == 0 ? "true" : "false")}",
    } + $",{r.Number}";

    // A message as Segment's S3 destination writes it (tests/testdata/segment/s3-destination.jsonl): page views are page calls,
    // signups identify calls (their properties as traits), the others track calls; each with its messageId, Segment's times
    // (sent 1.5 s after it happened, received 0.1 s later, timestamp corrected by the difference) and server fields.
    private static string SegmentLine(Row r)
    {
        var (type, named, body) = r.Type switch
        {
            "page_view" => ("page", "\"name\":\"Catalog\",", "properties"),
            "signup" => ("identify", "", "traits"),
            _ => ("track", $"\"event\":\"{r.Type}\",", "properties"),
        };
        var user = r.UserId is { } u ? $"\"userId\":\"{u}\"," : "";
        var messageId = $"ajs-next-{(uint)(r.Number * 2654435761L):x8}-{r.Number:D7}";
        return $"{{\"anonymousId\":\"{r.AnonymousId ?? $"anon-{r.Number}"}\",\"channel\":\"client\","
            + $"\"context\":{{\"library\":{{\"name\":\"analytics.js\",\"version\":\"4.4.1\"}},\"ip\":\"203.0.113.{r.Number % 250}\","
            + $"\"userAgent\":\"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)\",\"locale\":\"en-US\"}},\"integrations\":{{}},\"messageId\":\"{messageId}\","
            + $"\"originalTimestamp\":\"{Time(r.At)}\",\"projectId\":\"Z9tIfiSkBi\",\"receivedAt\":\"{Time(r.At.AddMilliseconds(1600))}\","
            + $"\"sentAt\":\"{Time(r.At.AddMilliseconds(1500))}\",\"timestamp\":\"{Time(r.At.AddMilliseconds(100))}\",\"type\":\"{type}\",{user}\"version\":2,"
            + $"\"_metadata\":{{\"bundled\":[\"Segment.io\"],\"unbundled\":[]}},{named}\"{body}\":{{{JsonProperties(r)}}}}}";
    }

    /// <summary>Writes <paramref name="rows"/> distinct rows in <paramref name="format"/> (events, csv or segment); returns the file's size.</summary>
    internal static async Task<long> WriteRowsAsync(string path, int rows, string format = "events")
    {
        Func<Row, string> line = format switch
        {
            "events" => EventLine,
            "csv" => CsvLine,
            "segment" => SegmentLine,
            _ => throw new ArgumentException($"unknown format '{format}': events, csv or segment"),
        };
        await using (var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20))
        {
            if (format == "csv")
            {
                await writer.WriteLineAsync(CsvHeader);
            }
            foreach (var row in Rows(rows))
            {
                await writer.WriteLineAsync(line(row));
            }
        }
        return new FileInfo(path).Length;
    }

    // The import's own messages for the file's records (its reader, parser, checker, ids and packing), sent as it sends them:
    // SendMessageBatch of up to 10 messages and 250,000 bytes, one call at a time; only the sending is timed.
    private static async Task<Raw> RawAsync(BenchStack bench, string file, string format, string key, string? segmentKeyHash)
    {
        var queue = (await bench.Aws.Sqs.CreateQueueAsync($"{bench.Stack.StackName}-raw")).QueueUrl;
        var job = new ImportJob(bench.Stack["ImportsBucket"], key, "etag");
        var import = new ImportContext(DateTimeOffset.UtcNow, "import-raw", TimeSpan.FromDays(1825), TimeProvider.System);
        IRowParser? parser = format switch
        {
            "events" => new EventRowParser(import),
            "segment" => new SegmentRowParser(import, segmentKeyHash!),
            _ => null, // CSV: from its header, the file's first record
        };
        var checker = parser is null ? null : new RowChecker(parser, PlanState.None, job.File);
        var seen = new Dictionary<RowKey, int>();
        var sending = TimeSpan.Zero;
        int messages = 0, calls = 0;
        var pending = new List<string>();
        async Task FlushAsync()
        {
            var batch = new List<string>();
            var size = 0;
            var bodies = EventBatchMessage.Pack(pending).ToList();
            var watch = Stopwatch.StartNew();
            foreach (var body in bodies.Append(null))
            {
                var length = body is null ? 0 : Encoding.UTF8.GetByteCount(body);
                if (batch.Count > 0 && (body is null || batch.Count == 10 || size + length > 250_000))
                {
                    var entries = batch.Select((b, i) => new SendMessageBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), b)).ToList();
                    var response = await bench.Aws.Sqs.SendMessageBatchAsync(new SendMessageBatchRequest { QueueUrl = queue, Entries = entries });
                    if (response.Failed is { Count: > 0 } failed)
                    {
                        throw new InvalidOperationException($"raw: {failed.Count} message(s) failed: {failed[0].Message}");
                    }
                    calls++;
                    batch.Clear();
                    size = 0;
                }
                if (body is not null)
                {
                    batch.Add(body);
                    size += length;
                }
            }
            sending += watch.Elapsed;
            messages += bodies.Count;
            pending.Clear();
        }
        await using var stream = File.OpenRead(file);
        var reader = new RecordReader(new LineReader(stream, ImportRun.MaxLineBytes), format == "csv", ImportRun.MaxLineBytes);
        while (await reader.ReadAsync(CancellationToken.None) is { } record)
        {
            if (checker is null)
            {
                var (header, error) = CsvRowParser.FromHeader(record.Bytes.Span, import);
                checker = new RowChecker(header ?? throw new InvalidOperationException($"raw: {error}"), PlanState.None, job.File);
                continue;
            }
            var outcome = checker.Check(record, seen);
            if (outcome.Event is not { } queued)
            {
                throw new InvalidOperationException($"raw: line {record.Line} refused: {string.Join("; ", outcome.Reasons)}");
            }
            pending.Add(JsonSerializer.Serialize(queued, EventJsonContext.Default.QueuedEvent));
            if (pending.Count == 1000)
            {
                await FlushAsync();
            }
        }
        if (pending.Count > 0)
        {
            await FlushAsync();
        }
        await bench.Aws.Sqs.DeleteQueueAsync(queue);
        return new Raw(sending, messages, calls);
    }

    private static async Task<Imported> ImportAsync(BenchStack bench, FunctionDefinition definition, string file, string key, string folder, int liveRate)
    {
        var (aws, stack) = (bench.Aws, bench.Stack);
        using var cgroup = Cgroup.Create(definition.MemorySize);
        var output = new ConcurrentQueue<string>();
        await using var importer = new LocalFunction(definition with { Host = await cgroup.LauncherAsync(folder) }, LocalImporter.Options(stack).Concurrency, output.Enqueue);
        using var stop = new CancellationTokenSource();
        var running = new List<Task>
        {
            LocalImporter.EventSource(aws, stack, importer.InvokeAsync, _ => { }).RunAsync(stop.Token),
            LocalImporter.Notifications(aws, stack, _ => { }).RunAsync(stop.Token),
        };
        await using var processor = liveRate > 0 ? LocalProcessor.Start(stack, aws.Endpoints, _ => { }) : null;
        if (processor is not null)
        {
            running.Add(LocalProcessor.RunEventSourcesAsync(aws, stack, processor.InvokeAsync, LocalProcessor.EventSourceOptions(stack), _ => { }, stop.Token));
        }

        // Live events before the import, for 20 s: the freshness the import is compared with.
        Freshness? before = null;
        if (liveRate > 0)
        {
            using (var warm = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            {
                await LiveAsync(bench, liveRate, warm.Token); // the Processor's processes started and warm, not measured
            }
            using var quiet = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            before = await LiveAsync(bench, liveRate, quiet.Token);
        }
        using var liveStop = new CancellationTokenSource();
        // Parts of 5 MB past 5 MB: the local S3 (fauxqs) refuses a single PUT of more than 11 MB, below TransferUtility's 16 MB threshold.
        using (var transfer = new TransferUtility(aws.S3, new TransferUtilityConfig { MinSizeBeforePartUpload = 5 << 20 }))
        {
            await transfer.UploadAsync(new TransferUtilityUploadRequest { FilePath = file, BucketName = stack["ImportsBucket"], Key = key, PartSize = 5 << 20 });
        }
        var itemsBefore = processor is null ? 0 : await ItemCountAsync(bench);
        var watch = Stopwatch.StartNew(); // from the upload's end: the notification, the import, its record closed
        var (cpuBefore, throttledBefore) = (CpuAccount.Sample(), cgroup.Throttling);
        var live = liveRate > 0 ? LiveAsync(bench, liveRate, liveStop.Token) : Task.FromResult<Freshness?>(null);
        Dictionary<string, AttributeValue>? record = null;
        long peakRss = 0, liveQueue = 0;
        while (watch.Elapsed < TimeSpan.FromMinutes(60))
        {
            record = (await aws.DynamoDb.ScanAsync(new ScanRequest { TableName = stack["ImportsTable"], ConsistentRead = true })).Items
                .FirstOrDefault(i => i["key"].S == key);
            foreach (var pid in importer.ProcessIds)
            {
                peakRss = Math.Max(peakRss, AggregatorBenchmark.PeakRss(pid));
            }
            var depth = await aws.Sqs.GetQueueAttributesAsync(stack.Resources["EventsQueue"].Ref, ["ApproximateNumberOfMessages"]);
            liveQueue = Math.Max(liveQueue, depth.ApproximateNumberOfMessages);
            if (record?["status"].S is { } status && status != ImportProgress.Importing)
            {
                break;
            }
            await Task.Delay(250);
        }
        var elapsed = watch.Elapsed;
        var (cpu, _) = CpuAccount.Sample().Since(cpuBefore);
        var itemsAtClose = processor is null ? 0 : await ItemCountAsync(bench);
        var throttled = cgroup.Throttling;
        foreach (var report in importer.Reports)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  invocation {report.RequestId}: {report.Duration.TotalSeconds:0.0} s (init {report.InitDuration?.TotalSeconds:0.0} s) {report.ErrorType}"));
        }
        await liveStop.CancelAsync();
        var freshness = await live; // the Processor runs on until the last live event is readable

        // The same live traffic for 30 s more, while the Processor goes on draining the file's rows at the import write rate
        // (about half an hour for a million at 500 a second): the longer part of a large import, once the file is read.
        Freshness? draining = null;
        long storedDraining = 0;
        var drainSeconds = 0.0;
        if (liveRate > 0)
        {
            var itemsBeforeDrain = await ItemCountAsync(bench);
            var drained = Stopwatch.StartNew(); // to the last live event readable, a little past the 30 s
            using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(DrainSeconds));
            draining = await LiveAsync(bench, liveRate, drain.Token);
            storedDraining = Math.Max(0, await ItemCountAsync(bench) - itemsBeforeDrain - (draining?.Sent ?? 0));
            drainSeconds = drained.Elapsed.TotalSeconds;
        }
        await stop.CancelAsync();
        try
        {
            await Task.WhenAll(running);
        }
        catch (OperationCanceledException)
        {
        }
        // Imported events the Processor stored while the file was read: the table's new items less the live events sent meanwhile.
        var stored = Math.Max(0, itemsAtClose - itemsBefore - (freshness?.Sent ?? 0));
        var accepted = record is not null && record.TryGetValue("accepted", out var a) ? long.Parse(a.N, CultureInfo.InvariantCulture) : 0;
        var error = record is null ? "no record" : record["status"].S != ImportProgress.Imported ? $"{record["status"].S}: {record.GetValueOrDefault("error")?.S}" : null;
        return new Imported(elapsed, accepted, importer.Reports.Count, output.Count(l => l.Contains("continuing at line", StringComparison.Ordinal)),
            peakRss, cgroup.PeakBytes, freshness, stored, error)
        {
            Before = before,
            Draining = draining,
            StoredDraining = storedDraining,
            DrainSeconds = drainSeconds,
            LiveQueuePeak = liveQueue,
            Cpu = cpu,
            Quota = (throttled.Periods - throttledBefore.Periods, throttled.Throttled - throttledBefore.Throttled),
        };
    }

    // Live events through the Api, one a request, at the rate; each polled with a consistent GetItem until it is readable.
    private static async Task<Freshness?> LiveAsync(BenchStack bench, int rate, CancellationToken stop)
    {
        var (aws, stack) = (bench.Aws, bench.Stack);
        var (key, _) = await new ApiKeyRegistry(aws.DynamoDb, stack["ApiKeysTable"]).CreateAsync("import-bench", CancellationToken.None);
        var url = $"http://127.0.0.1:{Pipeline.Local.Emulators.LocalEmulators.FreePort()}";
        await using var api = await InProcess.StartApiAsync(aws.Endpoints, stack, url, CancellationToken.None);
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        http.DefaultRequestHeaders.Add("x-api-key", key);
        var latencies = new ConcurrentBag<double>();
        var waits = new List<Task>();
        var sent = 0;
        var interval = TimeSpan.FromSeconds(1.0 / rate);
        var next = Stopwatch.StartNew();
        var ticks = 0L;
        while (!stop.IsCancellationRequested)
        {
            var id = $"live-{Guid.CreateVersion7()}";
            var body = $"{{\"eventId\":\"{id}\",\"eventType\":\"page_view\",\"userId\":\"live-user\",\"properties\":{{\"path\":\"/\"}}}}";
            using var response = await http.PostAsync("/events", new StringContent(body, Encoding.UTF8, "application/json"), CancellationToken.None);
            var accepted = Stopwatch.StartNew();
            if (response.StatusCode == System.Net.HttpStatusCode.Accepted)
            {
                sent++;
                waits.Add(ReadableAsync(aws, stack["EventsTable"], id, accepted, latencies));
            }
            ticks++;
            var due = interval * ticks - next.Elapsed;
            if (due > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(due, stop);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
        await Task.WhenAll(waits);
        var sorted = latencies.Order().ToList();
        double At(double p) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
        return new Freshness(sent, sorted.Count, At(0.5), At(0.95), sorted.Count == 0 ? double.NaN : sorted[^1]);
    }

    private static async Task ReadableAsync(Pipeline.Local.Emulators.LocalAws aws, string table, string id, Stopwatch since, ConcurrentBag<double> latencies)
    {
        while (since.Elapsed < TimeSpan.FromMinutes(2))
        {
            var item = await aws.DynamoDb.GetItemAsync(new GetItemRequest
            {
                TableName = table,
                Key = new() { ["eventId"] = new() { S = id } },
                ConsistentRead = true,
                ProjectionExpression = "eventId",
            });
            if (item.Item is { Count: > 0 })
            {
                latencies.Add(since.Elapsed.TotalMilliseconds);
                return;
            }
            await Task.Delay(20);
        }
    }

    private const int DrainSeconds = 30;

    private static async Task<long> ItemCountAsync(BenchStack bench) =>
        (await bench.Aws.DynamoDb.DescribeTableAsync(bench.Stack["EventsTable"])).Table.ItemCount ?? 0;

    private static string Render(string format, int rows, long bytes, FunctionDefinition definition, Raw raw, Imported alone, Imported? live, int liveRate,
        string pace)
    {
        double Rate(TimeSpan t) => rows / t.TotalSeconds;
        var file = format switch
        {
            "csv" => FormattableString.Invariant($"A CSV file of {rows:N0} distinct rows without eventIds ({bytes / 1048576.0:0} MB, {bytes / rows} bytes a row) ")
                + "under a header of 4 event fields and 13 typed property columns, 2 of them nested (a row fills those of its kind of properties "
                + "and leaves the others empty; ids derived from the header and each row's bytes), ",
            "segment" => FormattableString.Invariant($"A Segment archive of {rows:N0} distinct messages ({bytes / 1048576.0:0} MB, {bytes / rows} bytes a line, ")
                + "uncompressed; track, identify and page calls as Segment's S3 destination writes them, with context and Segment's server fields; "
                + "ids from each messageId under the write key the file is filed under, uploads/segment/KEYID/), ",
            _ => FormattableString.Invariant($"A file of {rows:N0} distinct JSON Lines rows without eventIds ({bytes / 1048576.0:0} MB; ids derived from each row's bytes), "),
        };
        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"One run, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, linux-x64. ")
                + file
                + string.Create(CultureInfo.InvariantCulture, $"imported by the published import function (ReadyToRun) as deployed: MemorySize {definition.MemorySize} MB "
                + $"as a cgroup memory limit, "
                + $"{Cgroup.CpuShare(definition.MemorySize):0.00} of a core (MemorySize/1,769) "
                + $"on {Cgroup.VisibleCpus(definition.MemorySize)} CPUs as Lambda is reported to show them, "
                + $"Timeout {definition.Timeout.TotalSeconds:0} s."),
            "",
            "| | rows/s | ratio to raw | time | invocations (continuations) | peak RSS | cgroup peak (with page cache) |",
            "|---|---:|---:|---:|---:|---:|---:|",
            string.Create(CultureInfo.InvariantCulture, $"| raw SendMessageBatch of the import's messages ({raw.Messages:N0} in {raw.Calls:N0} calls), one call at a time | "
                + $"{Rate(raw.Sending):N0} | 1 | {raw.Sending.TotalSeconds:0.0} s | - | - | - |"),
        };
        foreach (var (label, run) in new[] { ("import alone: upload done → record closed", alone), ("import with live traffic and the Processor", live) })
        {
            if (run is null)
            {
                continue;
            }
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"| {label} | {Rate(run.Elapsed):N0} | {raw.Sending / run.Elapsed:0.00}× | "
                + $"{run.Elapsed.TotalSeconds:0.0} s | {run.Invocations} ({run.Continuations}) | {run.PeakRssBytes / 1048576.0:0} MB | "
                + $"{run.CgroupPeakBytes / 1048576.0:0} MB |{(run.Error is null ? "" : $" {run.Error}")}"));
        }
        lines.Add("");
        lines.Add("Where the cores went from the upload's end to the record's close: CPU seconds by process (the benchmark's own process holds "
            + "the local notifications and event source, and in the live run the Api and its client; `machine busy` is every process on the "
            + "machine), and how often the function's cgroup ran into its CPU quota (of the 100 ms periods in which it ran).");
        lines.Add("");
        var roles = new[] { "import function", "fauxqs", "DynamoDB Local", "Processor processes", "bench", "other children", "machine busy" };
        lines.Add($"| run | {string.Join(" | ", roles)} | periods throttled |");
        lines.Add($"|---|{string.Concat(roles.Select(_ => "---:|"))}---:|");
        foreach (var (label, run) in new[] { ("import alone", alone), ("import with live traffic", live) })
        {
            if (run is not null)
            {
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"| {label} | {string.Join(" | ", roles.Select(r => $"{run.Cpu.GetValueOrDefault(r):0.0} s"))} | "
                    + $"{run.Quota.Throttled:N0} of {run.Quota.Periods:N0} |"));
            }
        }
        lines.Add("");
        lines.Add(live?.Live is { } f
            ? string.Create(CultureInfo.InvariantCulture, $"Live events during the second import, {liveRate}/s through the Api: {f.Readable:N0} of {f.Sent:N0} readable; "
                + $"freshness (202 → readable by a consistent GetItem) p50 {f.P50Ms:0} ms, **p95 {f.P95Ms:0} ms**, max {f.MaxMs:0} ms. Meanwhile the "
                + $"Processor, on the import events queue beside the live one, stored {live!.StoredDuring:N0} imported events "
                + $"({live.StoredDuring / live.Elapsed.TotalSeconds:N0} a second; at most {pace} by ImportWriteRate: the table's item count from the upload's end to "
                + $"the record's close, less the live events sent meanwhile), "
                + $"and the live events queue never held more than {live.LiveQueuePeak:N0} visible message(s) (sampled every 250 ms).")
            : "No live traffic was measured.");
        if (live?.Draining is { } d)
        {
            lines.Add("");
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"The same live traffic for {DrainSeconds} s after the record's close, while the Processor "
                + $"drained the file's rows: {d.Readable:N0} of {d.Sent:N0} readable; p50 {d.P50Ms:0} ms, **p95 {d.P95Ms:0} ms**, max {d.MaxMs:0} ms; "
                + $"{live.StoredDraining:N0} imported events stored meanwhile ({live.StoredDraining / live.DrainSeconds:N0} a second over its {live.DrainSeconds:0.0} s, "
                + $"counted as above)."));
        }
        if (live?.Before is { } b)
        {
            lines.Add("");
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"The same live traffic for 20 s before the import: {b.Readable:N0} of {b.Sent:N0} readable; "
                + $"p50 {b.P50Ms:0} ms, p95 {b.P95Ms:0} ms, max {b.MaxMs:0} ms."));
        }
        return string.Join('\n', lines) + "\n";
    }
}
