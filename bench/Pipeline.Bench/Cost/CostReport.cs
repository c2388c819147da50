using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Amazon.DynamoDBv2.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pipeline.ApiKeys;
using Pipeline.Cli.Commands;
using Pipeline.Local;
using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;
using Pipeline.Local.EventSourceMapping;
using Pipeline.Local.Lambda;
using Pipeline.Local.Schedule;
using Pipeline.Tests;

namespace Pipeline.Bench.Cost;

/// <summary>
/// What a million events cost, from counts: the events go through the local pipeline (the Api, the queue, the Processor's
/// and the Aggregator's processes), every AWS request is counted as AWS bills it (<see cref="MeteringProxy"/>), every
/// invocation's duration is timed, every byte logged is counted, and bench/prices.json prices them.
/// </summary>
internal static class CostReport
{
    // Lambda's own platform lines (JSON format, system log level INFO): platform.start and platform.report, about 130 and
    // 250 bytes in the Developer Guide's examples, plus CloudWatch Logs' 26 bytes of metadata per line.
    private const double PlatformBytesPerInvocation = 130 + 250 + 2 * 26;

    // The measured Aggregator run is a deployment's first: it counts the look-back's windows (48 at most, one minute each).
    private const int WindowsCounted = 48;

    // The steady load: a constant rate (a month of it is about 259 million events), in batches of 100, with a share of
    // client resends (duplicates: each a failed condition, billed as a write).
    private const int SteadyRate = 100;
    private const int SteadySeconds = 60;
    private const double SteadyDuplicates = 0.01;

    private static bool IsObjectRead(MeteredCall c) => c.Service == "s3" && c.Operation == "GetObject";

    public static async Task<string> RunAsync(int events)
    {
        var prices = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Discover().Root, "bench", "prices.json"))).RootElement;
        LocalAws.UseDummyCredentialsInThisProcess();
        await using var emulators = await LocalEmulators.StartAsync(EmulatorOptions.Private, _ => { }, CancellationToken.None);
        var batch = await MeasureAsync(emulators.Endpoints, events, batchSize: 100, concurrency: 4, rate: 5000);
        var single = await MeasureAsync(emulators.Endpoints, events / 2, batchSize: 1, concurrency: 1, rate: 5000);
        // A trickle: about one event a second, so the Processor's 1 s batching window mostly holds one message.
        var trickle = await MeasureAsync(emulators.Endpoints, 60, batchSize: 1, concurrency: 1, rate: 1);
        var import = await MeasureImportAsync(emulators.Endpoints, events * 5);
        // The same steady load in each billing mode of the events table (issue #32), each on a stack of that mode.
        var onDemand = await MeasureAsync(emulators.Endpoints, SteadyRate * SteadySeconds, 100, 4, SteadyRate, SteadyDuplicates);
        var provisioned = await MeasureAsync(emulators.Endpoints, SteadyRate * SteadySeconds, 100, 4, SteadyRate, SteadyDuplicates,
            new Dictionary<string, string> { ["EventsTableBillingMode"] = "PROVISIONED" });
        var target = TemplateDefault("EventsTableWriteTargetUtilization") / 100;
        return Render(prices, [("batch path", batch), ("single path", single), ("single, 1 event/s", trickle), ("import path", import),
            ($"{SteadyRate} events/s, on-demand", onDemand), ($"{SteadyRate} events/s, provisioned ({target:P0})", provisioned)]);
    }

    private sealed record PathCounts(int Events, List<MeteredCall> Calls, long ApiRequests, double ApiBilledMs, double ApiLogBytes,
        IReadOnlyCollection<InvocationReport> Processor, double ProcessorLogBytes, IReadOnlyCollection<InvocationReport> Aggregator,
        double AggregatorLogBytes, List<MeteredCall> AggregatorCalls, int ApiMemoryMb, int MemoryMb, int AggregatorMemoryMb,
        string ApiSystemLogLevel, string ProcessorSystemLogLevel)
    {
        /// <summary>The import function's invocations (the import path's only).</summary>
        public IReadOnlyCollection<InvocationReport> Importer { get; init; } = [];

        public double ImporterLogBytes { get; init; }

        public int ImporterMemoryMb { get; init; }

        /// <summary>The events table's physical name.</summary>
        public string EventsTable { get; init; } = "";

        /// <summary>For a steady load on a provisioned events table: its rate and the table's capacity settings.</summary>
        public SteadyCapacity? Provisioned { get; init; }
    }

    private static double TemplateDefault(string parameter) =>
        System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(RepositoryPaths.Discover().Template))!["Parameters"]![parameter]!["Default"]!.GetValue<double>();

    private static async Task<PathCounts> MeasureAsync(LocalEndpoints direct, int events, int batchSize, int concurrency, int rate,
        double duplicates = 0, IReadOnlyDictionary<string, string>? parameters = null)
    {
        await using var meter = await MeteredStack.StartAsync(direct, parameters);
        var (aws, stack, metered, meteredAws) = (meter.Aws, meter.Stack, meter.Metered, meter.MeteredAws);
        var (key, _) = await new ApiKeyRegistry(aws.DynamoDb, stack["ApiKeysTable"]).CreateAsync("cost", CancellationToken.None);

        var apiTimes = new ConcurrentQueue<double>();
        var apiLog = new CountingLoggerProvider();
        var url = $"http://127.0.0.1:{LocalEmulators.FreePort()}";
        await using var api = await InProcess.StartApiAsync(metered, stack, url, CancellationToken.None, services =>
        {
            services.AddSingleton<IStartupFilter>(new RequestTimer(apiTimes));
            services.AddSingleton<ILoggerProvider>(apiLog);
        });
        double processorLog = 0, aggregatorLog = 0;
        await using var processor = LocalProcessor.Start(stack, metered, line => processorLog += LogBytes(line));
        var source = LocalProcessor.EventSource(meteredAws, stack, processor.InvokeAsync, LocalProcessor.EventSourceOptions(stack), _ => { });
        await using var aggregator = LocalAggregator.Start(stack, metered, TimeSpan.FromMinutes(1), line => aggregatorLog += LogBytes(line));
        using var stop = new CancellationTokenSource();
        meter.Recording = true;
        var polling = source.RunAsync(stop.Token);

        using var generator = new LoadGenerator(new Uri(url), key, new LoadOptions
        {
            Rate = rate,
            Duration = TimeSpan.FromSeconds(events / (double)rate),
            Batch = batchSize,
            Concurrency = concurrency,
            DuplicateShare = duplicates,
            InvalidShare = 0,
        });
        var load = await generator.RunAsync(null, CancellationToken.None);
        if (load.Accepted != events)
        {
            throw new InvalidOperationException($"Only {load.Accepted} of {events} events were accepted: {load}");
        }
        // A resend is accepted again and stored once: the table holds the distinct ids.
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (await StoredAsync(aws, stack) < generator.Accepted.Count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
        }
        await Task.Delay(TimeSpan.FromSeconds(3)); // the last deletes
        await stop.CancelAsync();
        await polling;
        var pipelineCalls = meter.TakeCalls();
        var aggregatorCalls = await meter.AggregateAsync(aggregator);
        return new PathCounts(events, pipelineCalls, apiTimes.Count, apiTimes.Sum(Math.Ceiling), apiLog.Bytes,
            processor.Reports, processorLog, aggregator.Reports, aggregatorLog, aggregatorCalls,
            meter.MemorySize("ApiFunction"), meter.MemorySize("ProcessorFunction"), meter.MemorySize("AggregatorFunction"),
            stack.FunctionSetting("ApiFunction", "SystemLogLevel") ?? "INFO", stack.FunctionSetting("ProcessorFunction", "SystemLogLevel") ?? "INFO")
        {
            EventsTable = stack["EventsTable"],
            Provisioned = parameters?.GetValueOrDefault("EventsTableBillingMode") == "PROVISIONED"
                ? await SteadyCapacityAsync(aws, stack, rate)
                : null,
        };
    }

    // The provisioned table's floor and read capacity as provisioned (DynamoDB Local keeps them), the target as the template's default.
    private static async Task<SteadyCapacity> SteadyCapacityAsync(LocalAws aws, ProvisionedResources stack, double rate)
    {
        var throughput = (await aws.DynamoDb.DescribeTableAsync(stack["EventsTable"])).Table.ProvisionedThroughput;
        return new SteadyCapacity(rate, throughput.WriteCapacityUnits ?? 0, TemplateDefault("EventsTableWriteTargetUtilization") / 100,
            throughput.ReadCapacityUnits ?? 0);
    }

    // A JSON Lines file of rows dropped in the imports bucket: the import function and the Processor on the import events
    // queue, metered as the other paths; the Aggregator once the rows' window has settled.
    private static async Task<PathCounts> MeasureImportAsync(LocalEndpoints direct, int rows)
    {
        await using var meter = await MeteredStack.StartAsync(direct);
        var (aws, stack, metered, meteredAws) = (meter.Aws, meter.Stack, meter.Metered, meter.MeteredAws);
        double processorLog = 0, importerLog = 0, aggregatorLog = 0;
        await using var processor = LocalProcessor.Start(stack, metered, line => processorLog += LogBytes(line));
        await using var importer = LocalImporter.Start(stack, metered, line => importerLog += LogBytes(line));
        await using var aggregator = LocalAggregator.Start(stack, metered, TimeSpan.FromMinutes(1), line => aggregatorLog += LogBytes(line));
        using var stop = new CancellationTokenSource();
        meter.Recording = true;
        var running = new[]
        {
            LocalProcessor.RunEventSourcesAsync(meteredAws, stack, processor.InvokeAsync, LocalProcessor.EventSourceOptions(stack), _ => { }, stop.Token),
            LocalImporter.EventSource(meteredAws, stack, importer.InvokeAsync, _ => { }).RunAsync(stop.Token),
            // The local stand-in for S3's notifications lists the bucket: its requests are not AWS's, so it goes around the meter.
            LocalImporter.Notifications(aws, stack, _ => { }).RunAsync(stop.Token),
        };
        var file = Path.Combine(Path.GetTempPath(), $"cost-import-{Guid.NewGuid():N}.jsonl");
        try
        {
            await ImportBenchmark.WriteRowsAsync(file, rows);
            await meteredAws.S3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = stack["ImportsBucket"], Key = "uploads/cost.jsonl", FilePath = file });
        }
        finally
        {
            File.Delete(file);
        }
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (await StoredAsync(aws, stack) < rows && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
        }
        if (await StoredAsync(aws, stack) < rows)
        {
            throw new InvalidOperationException($"Only {await StoredAsync(aws, stack)} of {rows} imported rows were stored.");
        }
        await Task.Delay(TimeSpan.FromSeconds(3)); // the last deletes and the record's close
        await stop.CancelAsync();
        await Task.WhenAll(running);
        var pipelineCalls = meter.TakeCalls();
        var aggregatorCalls = await meter.AggregateAsync(aggregator);
        return new PathCounts(rows, pipelineCalls, 0, 0, 0, processor.Reports, processorLog, aggregator.Reports, aggregatorLog,
            aggregatorCalls, meter.MemorySize("ApiFunction"), meter.MemorySize("ProcessorFunction"), meter.MemorySize("AggregatorFunction"),
            stack.FunctionSetting("ApiFunction", "SystemLogLevel") ?? "INFO", stack.FunctionSetting("ProcessorFunction", "SystemLogLevel") ?? "INFO")
        {
            Importer = importer.Reports,
            ImporterLogBytes = importerLog,
            ImporterMemoryMb = meter.MemorySize(LocalImporter.LogicalId),
        };
    }

    // A line the function wrote, as CloudWatch Logs bills it (its bytes and 26 of metadata). The local Lambda's own REPORT
    // lines are not the function's: Lambda's platform lines are counted apart, by the system log level.
    private static double LogBytes(string line) => line.StartsWith("REPORT ", StringComparison.Ordinal) ? 0 : Encoding.UTF8.GetByteCount(line) + 1 + 26;

    private static async Task<int> StoredAsync(LocalAws aws, ProvisionedResources stack)
    {
        var count = 0;
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var page = await aws.DynamoDb.ScanAsync(new ScanRequest { TableName = stack["EventsTable"], Select = Amazon.DynamoDBv2.Select.COUNT, ExclusiveStartKey = start });
            count += page.Count ?? 0;
            start = page.LastEvaluatedKey is { Count: > 0 } last ? last : null;
        }
        while (start is not null);
        return count;
    }

    private sealed record Line(string Item, string Unit, double[] Units, double Price);

    private static string Render(JsonElement prices, IReadOnlyList<(string Name, PathCounts Counts)> paths)
    {
        double P(string name) => prices.GetProperty(name).GetDouble();
        var lines = new List<Line>();
        void Add(string item, string unit, Func<PathCounts, double> perMillion, double price) =>
            lines.Add(new Line(item, unit, [.. paths.Select(p => perMillion(p.Counts))], price));
        static double Scale(PathCounts p, double value) => value * 1_000_000 / p.Events;
        static double Requests(PathCounts p, string service, Func<MeteredCall, bool>? filter = null) =>
            Scale(p, p.Calls.Where(c => c.Service == service && (filter?.Invoke(c) ?? true)).Sum(c => c.Requests));
        static double GbSeconds(double billedMs, int memoryMb) => billedMs / 1000 * memoryMb / 1024.0;
        static double BilledMs(IEnumerable<InvocationReport> reports) => reports.Sum(r => Math.Ceiling(r.Duration.TotalMilliseconds));

        Add("API Gateway (HTTP API) requests", "requests", p => Scale(p, p.ApiRequests), P("apiGatewayHttpRequestsPerMillion") / 1e6);
        Add("Api: Lambda requests", "requests", p => Scale(p, p.ApiRequests), P("lambdaRequestsPerMillion") / 1e6);
        Add("Api: Lambda duration", "GB-s", p => Scale(p, GbSeconds(p.ApiBilledMs, p.ApiMemoryMb)), P("lambdaArmPerGbSecond"));
        Add("SQS requests (64 KB each)", "requests", p => Requests(p, "sqs"), P("sqsRequestsPerMillion") / 1e6);
        Add("Processor: Lambda requests", "requests", p => Scale(p, p.Processor.Count), P("lambdaRequestsPerMillion") / 1e6);
        Add("Processor: Lambda duration", "GB-s", p => Scale(p, GbSeconds(BilledMs(p.Processor), p.MemoryMb)), P("lambdaArmPerGbSecond"));
        static bool OnCapacity(PathCounts p, MeteredCall c) => p.Provisioned is not null && c.Table == p.EventsTable;
        Add("DynamoDB write units (on demand)", "WRU", p => Scale(p, p.Calls.Where(c => !OnCapacity(p, c)).Sum(c => c.WriteUnits)), P("dynamoDbWriteUnitsPerMillion") / 1e6);
        Add("DynamoDB provisioned writes (events table: the writes' units over the target utilisation, at least the floor)", "WCU-h",
            p => p.Provisioned?.WriteCapacityHours(p.Calls.Where(c => OnCapacity(p, c)).Sum(c => c.WriteUnits) / p.Events) ?? 0, P("dynamoDbWriteCapacityUnitHour"));
        Add("DynamoDB provisioned reads (events table)", "RCU-h", p => p.Provisioned?.ReadCapacityHours ?? 0, P("dynamoDbReadCapacityUnitHour"));
        Add("DynamoDB read units", "RRU", p => Scale(p, p.Calls.Sum(c => c.ReadUnits)), P("dynamoDbReadUnitsPerMillion") / 1e6);
        Add("Import: Lambda requests", "requests", p => Scale(p, p.Importer.Count), P("lambdaRequestsPerMillion") / 1e6);
        Add("Import: Lambda duration", "GB-s", p => Scale(p, GbSeconds(BilledMs(p.Importer), p.ImporterMemoryMb)), P("lambdaArmPerGbSecond"));
        Add("Import: S3 GET of the file (once an invocation)", "requests", p => Requests(p, "s3", IsObjectRead), P("s3GetPerThousand") / 1e3);
        Add("S3 PUT (the Processor's archive objects, an invocation and hour each; an import's upload and report)", "requests",
            p => Requests(p, "s3", c => !IsObjectRead(c)), P("s3PutCopyPostListPerThousand") / 1e3);
        Add("Logs (our lines, and Lambda's at its system log level)", "GB", p => Scale(p,
            (p.ApiLogBytes + p.ProcessorLogBytes + p.ImporterLogBytes + (p.ApiSystemLogLevel == "INFO" ? p.ApiRequests * PlatformBytesPerInvocation : 0)
                + (p.ProcessorSystemLogLevel == "INFO" ? p.Processor.Count * PlatformBytesPerInvocation : 0)) / 1e9), P("logsIngestedPerGb"));
        // The Aggregator's share that grows with the events: a GET per archive object of a window it counts (once, unless
        // late events change the window's hours). Its time is billed per run, mostly fixed work at this volume: below.
        Add("Aggregator: S3 GET of archive objects", "requests", p => Scale(p, p.AggregatorCalls.Where(IsObjectRead).Sum(c => c.Requests)), P("s3GetPerThousand") / 1e3);

        // Its share that does not: listing, storing and publishing summaries, the DLQ depth.
        var batch = paths[0].Counts;
        var fixedRequests = batch.AggregatorCalls.Where(c => !IsObjectRead(c)).ToList();
        double FixedCost(MeteredCall c) => c.Service switch
        {
            "s3" => c.Requests * P("s3PutCopyPostListPerThousand") / 1e3,
            "sns" => c.Requests * P("snsPublishesPerMillion") / 1e6,
            "sqs" => c.Requests * P("sqsRequestsPerMillion") / 1e6,
            _ => (c.ReadUnits * P("dynamoDbReadUnitsPerMillion") + c.WriteUnits * P("dynamoDbWriteUnitsPerMillion")) / 1e6,
        };
        var runGbSeconds = GbSeconds(BilledMs(batch.Aggregator), batch.AggregatorMemoryMb);
        var perRun = fixedRequests.Sum(FixedCost) + (runGbSeconds * P("lambdaArmPerGbSecond"));

        var text = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        text.AppendLine(inv, $"Cost per **1,000,000 events**, {prices.GetProperty("region").GetString()} list prices of {prices.GetProperty("date").GetString()} "
            + $"(`bench/prices.json`), Arm Lambda: the Api at {batch.ApiMemoryMb} MB, the Processor at {batch.MemoryMb} MB, the Aggregator at {batch.AggregatorMemoryMb} MB.");
        text.AppendLine(inv, $"Counted from {paths[0].Counts.Events:N0} events sent in batches of 100 (4 requests at a time), "
            + $"{paths[1].Counts.Events:N0} sent one per request, one request at a time");
        text.AppendLine(inv, $"(as one Lambda instance of the Api serves them), {paths[2].Counts.Events:N0} sent one a second, and {paths[3].Counts.Events:N0} rows "
            + $"imported from one JSON Lines file (the import function at {paths[3].Counts.ImporterMemoryMb} MB), then scaled to a million.");
        if (paths.Select(p => p.Counts.Provisioned).OfType<SteadyCapacity>().FirstOrDefault() is { } capacity)
        {
            text.AppendLine(inv, $"The steady load: {SteadyRate} events a second for {SteadySeconds} s ({paths[4].Counts.Events:N0} events in batches of 100, "
                + $"{SteadyDuplicates:P0} of them sent again by their client), on a stack whose events table is on demand, then on one whose table is provisioned with "
                + $"the template's defaults (a floor of {capacity.Floor:0} WCU, {capacity.Target:P0} target utilisation, {capacity.Reads:0} RCU), priced as auto scaling "
                + $"holds it: the write units the table consumed a second at that rate, over the target, never below the floor. A month of it is "
                + $"{SteadyRate * 3600 * 24 * 30 / 1e6:0} million events.");
        }
        text.AppendLine();
        text.AppendLine("| item | unit | " + string.Join(" | ", paths.Select(p => $"{p.Name}: units | {p.Name}: $")) + " |");
        text.AppendLine("|---|---|" + string.Concat(paths.Select(_ => "---:|---:|")));
        var totals = new double[paths.Count];
        foreach (var line in lines)
        {
            var cells = line.Units.Select((u, i) =>
            {
                totals[i] += u * line.Price;
                return $"{Units(u)} | {u * line.Price:0.0000}";
            });
            text.AppendLine(inv, $"| {line.Item} | {line.Unit} | {string.Join(" | ", cells)} |");
        }
        text.AppendLine(inv, $"| **total** | | {string.Join(" | ", totals.Select(t => $"| **{t:0.00}**"))} |");
        text.AppendLine();
        text.AppendLine(inv, $"Events an invocation of the Processor: "
            + $"{string.Join(", ", paths.Select(p => $"{p.Name} {p.Counts.Events / (double)Math.Max(1, p.Counts.Processor.Count):0.0}"))}.");
        text.AppendLine(inv, $"The Aggregator reads each archive object once per window it counts: "
            + $"{string.Join(", ", paths.Select(p => $"{p.Name} {Scale(p.Counts, p.Counts.AggregatorCalls.Where(IsObjectRead).Sum(c => c.Requests)):N0}"))} "
            + $"GETs a million events. A window is read again only when its hours changed since it was counted (late events), so a window costs a GET per object once, "
            + $"and a LIST per hour for each run that checks it.");
        text.AppendLine(inv, $"Failed conditions (duplicates: each billed as a write, in the write lines above): "
            + $"{string.Join(", ", paths.Select(p => $"{p.Name} {Scale(p.Counts, p.Counts.Calls.Count(c => c.ConditionFailed)):N0}"))} a million events.");
        var fullUse = P("dynamoDbWriteCapacityUnitHour") / 3600 * 1e6;
        text.AppendLine(inv, $"Break-even: a write capacity unit held an hour (${P("dynamoDbWriteCapacityUnitHour")}) can write 3,600 times, ${fullUse:0.000} a million writes "
            + $"fully used, against ${P("dynamoDbWriteUnitsPerMillion")} on demand: provisioned writes cost less above {fullUse / P("dynamoDbWriteUnitsPerMillion"):P1} "
            + $"average use of the capacity held (${fullUse / 0.7:0.000} a million at 70 %).");
        text.AppendLine();
        text.AppendLine(inv, $"Not per event: an Aggregator run ({runGbSeconds:0.0} GB-s at {batch.AggregatorMemoryMb} MB, "
            + $"and {fixedRequests.Sum(c => c.Requests):N0} requests: "
            + $"{string.Join(", ", fixedRequests.GroupBy(c => $"{c.Service} {c.Operation}").Select(g => $"{g.Sum(c => c.Requests):N0} {g.Key}"))}) "
            + $"cost ${perRun:0.000000} in the measured run, which counted {WindowsCounted} one-minute windows (loading DuckDB included); "
            + $"at the default schedule of 96 runs a day that is at most ${perRun * 96 * 30:0.00} a month. Counting itself grows with the events: "
            + $"`bench/run.sh aggregator` measures it.");
        text.AppendLine();
        text.AppendLine("Requests by operation (per million events):");
        text.AppendLine();
        text.AppendLine("| service | operation | " + string.Join(" | ", paths.Select(p => p.Name)) + " |");
        text.AppendLine("|---|---|" + string.Concat(paths.Select(_ => "---:|")));
        var operations = paths.SelectMany(p => p.Counts.Calls).Select(c => (c.Service, c.Operation)).Distinct().Order();
        foreach (var (service, operation) in operations)
        {
            double Of(PathCounts p) => Scale(p, p.Calls.Where(c => c.Service == service && c.Operation == operation).Sum(c => c.Requests));
            text.AppendLine(inv, $"| {service} | {operation} | {string.Join(" | ", paths.Select(p => Units(Of(p.Counts))))} |");
        }
        text.AppendLine();
        text.AppendLine(inv, $"Durations are this machine's (x64, emulators on loopback): Processor {string.Join(" / ", paths.Select(p => Mean(p.Counts.Processor)))} ms a batch, "
            + $"Api {string.Join(" / ", paths.Select(p => (p.Counts.ApiBilledMs / Math.Max(1, p.Counts.ApiRequests)).ToString("0.0", inv)))} ms a request "
            + $"({string.Join(" / ", paths.Select(p => p.Name))}). Lambda's will differ: its network to DynamoDB, SQS and S3 is slower than loopback, its Arm cores differ, "
            + $"and the Web Adapter adds to each Api request.");
        text.AppendLine(inv, $"Lambda's platform log lines are counted at {PlatformBytesPerInvocation} bytes an invocation where the function's system log level is INFO "
            + $"(the Api's is {batch.ApiSystemLogLevel}, the Processor's {batch.ProcessorSystemLogLevel}). Not included: storage (DynamoDB $0.25 and S3 $0.023 per GB-month), "
            + $"data transfer, and the fixed monthly costs (alarms, dashboard, EMF metrics).");
        return text.ToString();
    }

    private static string Units(double value) => value.ToString(value >= 100 ? "N0" : "0.###", CultureInfo.InvariantCulture);

    private static string Mean(IReadOnlyCollection<InvocationReport> reports) =>
        reports.Count == 0 ? "-" : reports.Average(r => r.Duration.TotalMilliseconds).ToString("0.0", CultureInfo.InvariantCulture);

    // Times each request the Api serves: on Lambda, one invocation each.
    private sealed class RequestTimer(ConcurrentQueue<double> times) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, nextMiddleware) =>
            {
                var started = Stopwatch.GetTimestamp();
                await nextMiddleware(context);
                times.Enqueue(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            });
            next(app);
        };
    }

    // Counts what the Api logs, as its JSON console would write it: the message and about 150 bytes of JSON around it.
    private sealed class CountingLoggerProvider : ILoggerProvider
    {
        private double _bytes;

        public double Bytes => Volatile.Read(ref _bytes);

        public ILogger CreateLogger(string categoryName) => new Counter(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Counter(CountingLoggerProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var bytes = Encoding.UTF8.GetByteCount(formatter(state, exception)) + category.Length + 150 + 26;
                double seen, next;
                do
                {
                    seen = Volatile.Read(ref provider._bytes);
                    next = seen + bytes;
                }
                while (Interlocked.CompareExchange(ref provider._bytes, next, seen) != seen);
            }
        }
    }
}
