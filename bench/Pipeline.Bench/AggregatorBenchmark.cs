using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Pipeline.Aggregator;
using Pipeline.Archive;
using Pipeline.Events;
using Pipeline.Local.Lambda;
using Pipeline.Local.Schedule;
using Pipeline.Processor;
using Pipeline.Summaries;

namespace Pipeline.Bench;

/// <summary>
/// One 60-minute window of many events, counted by the published Aggregator as deployed: its own process under the local
/// Runtime API, with the template's Timeout, and held by a cgroup to the template's MemorySize and to MemorySize/1,769 of
/// one core (Lambda's CPU share). The archive is written straight to S3 with the Processor's own code (through the pipeline
/// it would take hours), about 1 KB an event, a fresh emulator and bucket per shape.
/// </summary>
internal static class AggregatorBenchmark
{
    internal sealed record Shape(string Path, int PerObject, int Events);

    internal sealed record Result(
        Shape Shape, long Objects, long Bytes, TimeSpan Load, double InitMs, double RunMs, long PeakRssBytes, long PeakCgroupBytes, long Counted, string? Error)
    {
        /// <summary>The function's output lines.</summary>
        public IReadOnlyList<string> Log { get; init; } = [];
    }

    private static readonly Shape[] Shapes =
    [
        new("batch", 1000, 100_000), new("batch", 1000, 1_000_000), new("batch", 1000, 10_000_000),
        new("single", 10, 100_000), new("single", 10, 1_000_000),
    ];

    public static async Task<string> RunAsync(int maxEvents)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"pipeline-aggregator-bench-{Guid.NewGuid():N}");
        var taskRoot = await LocalLambda.PublishAsync("src/Aggregator", "linux-x64", Path.Combine(folder, "publish"));
        var results = new List<Result>();
        int memorySize = 0, timeout = 0, storage = 0;
        var sampleWindow = SummaryWindows.Containing(DateTimeOffset.UtcNow, TimeSpan.FromHours(1));
        var eventBytes = Enumerable.Range(0, 997).Average(i => Pipeline.Storage.ArchiveLine.Serialize(Event(sampleWindow, TimeSpan.Zero, i, Properties(i))).Length + 1);
        try
        {
            foreach (var shape in Shapes.Where(s => s.Events <= maxEvents))
            {
                await using var bench = await BenchStack.StartAsync();
                var definition = LocalLambda.Definition(bench.Stack, LocalAggregator.LogicalId, bench.Aws.Endpoints, new Dictionary<string, string>
                {
                    ["Summaries__WindowMinutes"] = "60",
                    ["Summaries__LookbackMinutes"] = "240", // the loaded window stays due however long the load takes
                }, taskRoot);
                memorySize = definition.MemorySize;
                timeout = (int)definition.Timeout.TotalSeconds;
                storage = bench.Stack.Functions[LocalAggregator.LogicalId]["EphemeralStorage"]?["Size"]?.GetValue<int>() ?? 512;
                var window = SummaryWindows.Containing(DateTimeOffset.UtcNow - TimeSpan.FromHours(1), TimeSpan.FromHours(1));
                var (objects, bytes, load) = await LoadAsync(bench, shape, window);
                Console.WriteLine(FormattableString.Invariant($"{shape}: {objects} objects, {bytes / 1048576.0:0} MB loaded in {load.TotalSeconds:0} s"));
                var result = await CountAsync(bench, definition, folder, shape, window) with { Objects = objects, Bytes = bytes, Load = load };
                Console.WriteLine(result);
                results.Add(result);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }

        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"One 60-minute window per row, one run each, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, "
                + $"{Environment.ProcessorCount} cores, linux-x64, Release publish (ReadyToRun) run as deployed:"),
            string.Create(CultureInfo.InvariantCulture, $"MemorySize {memorySize} MB as a cgroup memory limit, "
                + $"a CPU quota of {memorySize / 1769.0:0.00} core (MemorySize/1,769), Timeout {timeout} s, EphemeralStorage {storage} MB."),
            string.Create(CultureInfo.InvariantCulture, $"Events of {eventBytes:N0} bytes on average as archive lines (the load generator's shapes, "
                + $"with a user agent and page context), written with the Processor's archive code."),
            "",
            "| path (events an object) | events | objects | gzip MB | init (start → first GET /next) | first invocation (the run) | events/s | peak RSS | "
                + "cgroup peak (with page cache) | counted |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        };
        lines.AddRange(results.Select(r => string.Create(CultureInfo.InvariantCulture,
            $"| {r.Shape.Path} ({r.Shape.PerObject}) | {r.Shape.Events:N0} | {r.Objects:N0} | {r.Bytes / 1048576.0:0} | {r.InitMs:0} ms | {r.RunMs / 1000:0.0} s | "
                + $"{r.Shape.Events / (r.RunMs / 1000):N0} | {r.PeakRssBytes / 1048576.0:0} MB | {r.PeakCgroupBytes / 1048576.0:0} MB | "
                + $"{(r.Error ?? (r.Counted == r.Shape.Events ? "exact" : $"{r.Counted:N0}: WRONG"))} |")));
        lines.Add("");
        lines.Add("The run lists the window's hour, downloads its objects to /tmp (32 at once, appended into a few files), and counts them");
        lines.Add("with DuckDB, each eventId once. Peak RSS is the process's (VmHWM); the cgroup peak also holds the page cache of the");
        lines.Add("downloaded files, which the kernel reclaims under the limit (Lambda's /tmp is not function memory).");
        return string.Join('\n', lines) + "\n";
    }

    // Writes the window's events as the Processor would, PerObject events an object.
    internal static async Task<(long Objects, long Bytes, TimeSpan Elapsed)> LoadAsync(BenchStack bench, Shape shape, SummaryWindow window)
    {
        var watch = Stopwatch.StartNew();
        // A look-back of ten years: no late marker (they are not what is measured).
        var archive = new EventArchive(bench.Aws.S3, bench.Stack["ArchiveBucket"], TimeSpan.FromDays(3650), TimeProvider.System);
        var objects = (shape.Events + shape.PerObject - 1) / shape.PerObject;
        var step = (window.End - window.Start) / shape.Events;
        var properties = Enumerable.Range(0, 997).Select(Properties).ToArray();
        long done = 0;
        await Parallel.ForAsync(0, objects, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (o, ct) =>
        {
            var first = (long)o * shape.PerObject;
            var events = Enumerable.Range(0, (int)Math.Min(shape.PerObject, shape.Events - first))
                .Select(k => Event(window, step, first + k, properties[(first + k) % properties.Length])).ToList();
            await archive.WriteAsync(events, DateTimeOffset.UtcNow, ct);
            if (Interlocked.Increment(ref done) % 1000 == 0)
            {
                Console.WriteLine($"  {done}/{objects} objects");
            }
        });
        var listed = await ArchiveListing.ListAsync(bench.Aws.S3, bench.Stack["ArchiveBucket"], Pipeline.Storage.EventLayout.EventsRoot, CancellationToken.None);
        return (listed.Count, listed.Sum(o => o.Size ?? 0), watch.Elapsed);
    }

    private static QueuedEvent Event(SummaryWindow window, TimeSpan step, long i, JsonElement properties) => new()
    {
        SchemaVersion = QueuedEvent.CurrentSchemaVersion,
        EventId = $"{Guid.CreateVersion7()}",
        EventType = (i % 5) switch { 0 => "page_view", 1 => "signup", 2 => "purchase", 3 => "search", _ => "checkout.completed" },
        UserId = i % 3 == 0 ? null : $"user-{i % 50_000}",
        AnonymousId = i % 3 == 0 ? $"anon-{i % 70_000}" : null,
        OccurredAt = window.Start + (step * i),
        ReceivedAt = window.Start + (step * i),
        SourceIp = $"203.0.113.{i % 250}",
        UserAgent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        RequestId = $"0HN{i:X12}",
        Properties = properties,
    };

    // The load generator's property shapes, with a page context, so a stored event is about 1 KB.
    private static JsonElement Properties(int i)
    {
        var random = new Random(i);
        var shape = (i % 4) switch
        {
            0 => $"\"path\":\"/p/{random.Next(50)}\",\"referrer\":\"https://example.com/\"",
            1 => $"\"amount\":{random.Next(1, 500)}.{random.Next(100):D2},\"currency\":\"EUR\",\"items\":[{{\"sku\":\"S-{random.Next(100)}\",\"qty\":{random.Next(1, 4)}}}]",
            2 => $"\"query\":\"q {random.Next(1000)}\",\"results\":{random.Next(100)},\"filters\":{{\"inStock\":true}}",
            _ => "\"empty\":true",
        };
        var page = $"\"page\":{{\"url\":\"https://shop.example.com/catalog/{random.Next(5000)}/item-{Convert.ToHexStringLower(random.GetItems<byte>(new byte[256], 12))}"
            + $"?utm_source=newsletter&utm_medium=email&utm_campaign=winter-{random.Next(40)}\","
            + $"\"title\":\"Item {random.Next(5000)} – winter collection, free delivery over 50 EUR\","
            + $"\"width\":{random.Next(320, 2560)},\"height\":{random.Next(480, 1440)},\"locale\":\"de-DE\",\"timezone\":\"Europe/Berlin\"}},"
            + $"\"session\":{{\"id\":\"{Convert.ToHexStringLower(random.GetItems<byte>(new byte[256], 16))}\",\"start\":{random.Next()},\"pages\":{random.Next(1, 40)}}},"
            + $"\"experiment\":{{\"name\":\"checkout-redesign-{random.Next(9)}\",\"variant\":\"{(random.Next(2) == 0 ? "control" : "treatment")}\"}}";
        return JsonDocument.Parse($"{{{shape},{page}}}").RootElement.Clone();
    }

    // The published Aggregator in its own process, put into a cgroup by a launcher before the runtime starts.
    internal static async Task<Result> CountAsync(BenchStack bench, FunctionDefinition definition, string folder, Shape shape, SummaryWindow window)
    {
        using var cgroup = Cgroup.Create(definition.MemorySize);
        var launcher = await cgroup.LauncherAsync(folder);
        var output = new List<string>();
        {
            await using var function = new LocalFunction(definition with { Host = launcher }, 1, line => { lock (output) { output.Add(line); } });
            string? error = null;
            long rss = 0;
            try
            {
                await LocalAggregator.InvokeAsync(function, CancellationToken.None);
                rss = PeakRss(function.ProcessIds.Single());
            }
            catch (LambdaInvocationException e)
            {
                error = $"{e.ErrorType}: {e.ErrorMessage}";
                Console.WriteLine(string.Join('\n', output.TakeLast(20)));
            }
            var report = function.Reports.Single();
            var store = new SummaryStore(bench.Aws.DynamoDb, bench.Stack["SummariesTable"], TimeProvider.System);
            var summary = (await store.GetAsync(window.Start, CancellationToken.None))?.Summary;
            var initMs = report.InitDuration?.TotalMilliseconds ?? 0;
            return new Result(shape, 0, 0, TimeSpan.Zero, initMs, report.Duration.TotalMilliseconds, rss, cgroup.PeakBytes, summary?.TotalEvents ?? -1, error)
            {
                Log = [.. output],
            };
        }
    }

    // The process's peak resident memory (VmHWM), or 0 once it has ended.
    internal static long PeakRss(int pid)
    {
        try
        {
            return File.ReadLines($"/proc/{pid}/status").Where(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))
                .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024).Single();
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
