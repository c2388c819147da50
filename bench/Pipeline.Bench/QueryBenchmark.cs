using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Pipeline.Aggregator;
using Pipeline.Archive;
using Pipeline.Cli.Commands;
using Pipeline.Local;
using Pipeline.Local.Lambda;
using Pipeline.Local.Schedule;
using Pipeline.Storage;
using Pipeline.Summaries;

namespace Pipeline.Bench;

/// <summary>
/// One hour of events, archived as the Processor archives it, then compacted by the published Aggregator as deployed
/// (the aggregator benchmark's cgroup: MemorySize, CPU share, Timeout): what a three-column query reads from the Parquet
/// file against the gzip JSON lines (Athena reads a gzip object whole, and only the column chunks it needs of a Parquet
/// file), the compaction's duration and peak RSS, and the README's queries, locally, over the hour raw and compacted.
/// </summary>
internal static partial class QueryBenchmark
{
    // The three columns of the measured query: SELECT eventType, count(DISTINCT userId) ... WHERE receivedAt ...
    private static readonly string[] ThreeColumns = ["eventType", "userId", "receivedAt"];

    public static async Task<string> RunAsync(int events)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"pipeline-query-bench-{Guid.NewGuid():N}");
        try
        {
            var taskRoot = await LocalLambda.PublishAsync("src/Aggregator", "linux-x64", Path.Combine(folder, "publish"));
            await using var bench = await BenchStack.StartAsync();
            var bucket = bench.Stack["ArchiveBucket"];
            // No look-back: the loaded hour is compacted by the first run, after it is counted.
            var definition = LocalLambda.Definition(bench.Stack, LocalAggregator.LogicalId, bench.Aws.Endpoints, new Dictionary<string, string>
            {
                ["Summaries__WindowMinutes"] = "60",
                ["Summaries__LookbackMinutes"] = "0",
            }, taskRoot);
            var storage = bench.Stack.Functions[LocalAggregator.LogicalId]["EphemeralStorage"]?["Size"]?.GetValue<int>() ?? 512;
            var window = SummaryWindows.Containing(DateTimeOffset.UtcNow - TimeSpan.FromHours(1), TimeSpan.FromHours(1));
            var shape = new AggregatorBenchmark.Shape("batch", 1000, events);
            var (objects, gzipBytes, load) = await AggregatorBenchmark.LoadAsync(bench, shape, window);
            Console.WriteLine(FormattableString.Invariant($"{events:N0} events: {objects} objects, {gzipBytes / 1048576.0:0} MB in {load.TotalSeconds:0} s"));
            var queries = ReadmeQueries();
            // Over 1 M events, the raw hour's queries take minutes each and show nothing new: compacted only.
            var raw = events <= 1_000_000 ? await TimeQueriesAsync(bench, bucket, queries, window) : null;

            // The function's /tmp use (Lambda's EphemeralStorage), sampled while it runs.
            using var sampling = new CancellationTokenSource();
            var tmpPeak = SampleTmpAsync(Path.Combine(Path.GetTempPath(), "pipeline-aggregator"), sampling.Token);
            var run = await AggregatorBenchmark.CountAsync(bench, definition, folder, shape, window);
            await sampling.CancelAsync();
            var tmpBytes = await tmpPeak;
            var compaction = run.Log.FirstOrDefault(l => l.Contains("Compacted dt=", StringComparison.Ordinal)) ?? throw new InvalidOperationException(
                $"The Aggregator compacted nothing: {run.Error}\n{string.Join('\n', run.Log.TakeLast(20))}");
            var parquet = (await ArchiveListing.ListAsync(bench.Aws.S3, bucket, EventLayout.ParquetRoot, CancellationToken.None)).Single();
            var leftRaw = (await ArchiveListing.ListAsync(bench.Aws.S3, bucket, EventLayout.EventsRoot, CancellationToken.None)).Count;
            var (columnBytes, rows) = await ColumnBytesAsync(bench, bucket, parquet.Key, folder);
            var compacted = await TimeQueriesAsync(bench, bucket, queries, window);

            var lines = new List<string>
            {
                string.Create(CultureInfo.InvariantCulture, $"One hour of {events:N0} events, one run, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, "
                    + $"{Environment.ProcessorCount} cores, linux-x64."),
                string.Create(CultureInfo.InvariantCulture, $"Archived as the Processor archives it: {objects:N0} gzip JSON-lines objects of 1,000 events, "
                    + $"{gzipBytes / 1048576.0:0.0} MB; the load generator's event shapes."),
                string.Create(CultureInfo.InvariantCulture, $"Compacted by the published Aggregator (Release, ReadyToRun) as deployed: "
                    + $"MemorySize {definition.MemorySize} MB as a cgroup memory limit, {definition.MemorySize / 1769.0:0.00} core, "
                    + $"Timeout {definition.Timeout.TotalSeconds:0} s."),
                "",
                "| measure | value |",
                "|---|---:|",
                string.Create(CultureInfo.InvariantCulture, $"| Parquet file (zstd), every column | "
                    + $"{parquet.Size / 1048576.0:0.0} MB ({(double)parquet.Size! / gzipBytes:0.00}× the gzip bytes) |"),
                FormattableString.Invariant($"| a three-column query ({string.Join(", ", ThreeColumns)}): Parquet bytes read (column chunks) | {columnBytes / 1048576.0:0.0} MB |"),
                FormattableString.Invariant($"| the same query over gzip JSON lines (whole objects) | {gzipBytes / 1048576.0:0.0} MB |"),
                FormattableString.Invariant($"| **ratio, Parquet / gzip** (target ≤ 0.20) | **{(double)columnBytes / gzipBytes:0.000}** |"),
                FormattableString.Invariant($"| rows in the Parquet file | {rows:N0} ({(rows == events ? "every event once" : "WRONG")}); raw objects left: {leftRaw} |"),
                string.Create(CultureInfo.InvariantCulture, $"| the Aggregator's run (a first run with no look-back: no window due, it compacts the hour) | "
                    + $"{run.RunMs / 1000:0.0} s of {definition.Timeout.TotalSeconds:0} s{(run.Error is null ? "" : $": {run.Error}")} |"),
                FormattableString.Invariant($"| of which the compaction (download, parse, dedupe, write, upload, delete) | {CompactionMs(compaction) / 1000:0.0} s |"),
                FormattableString.Invariant($"| peak RSS of the run | {run.PeakRssBytes / 1048576.0:0} MB of {definition.MemorySize} MB |"),
                FormattableString.Invariant($"| peak /tmp use of the run (sampled every 0.5 s) | {tmpBytes / 1048576.0:0} MB of {storage} MB (EphemeralStorage) |"),
                "",
                "The README's queries, locally (`query --format csv` over the hour: list, download, define the views, run), raw and compacted:",
                "",
                "| query | raw hour | compacted hour | same answer |",
                "|---|---:|---:|---|",
            };
            lines.AddRange(queries.Select((q, i) => string.Create(CultureInfo.InvariantCulture,
                $"| `{(q.Length > 60 ? q[..57] + "..." : q)}` | {(raw is null ? "not run" : $"{raw[i].Elapsed.TotalSeconds:0.0} s")} | "
                    + $"{compacted[i].Elapsed.TotalSeconds:0.0} s | {(raw is null ? "n/a" : raw[i].Output == compacted[i].Output ? "yes" : "NO")} |")));
            return string.Join('\n', lines) + "\n";
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task<long> SampleTmpAsync(string folder, CancellationToken cancellationToken)
    {
        long peak = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var bytes = Directory.Exists(folder) ? new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Exists ? f.Length : 0) : 0;
                peak = Math.Max(peak, bytes);
                await Task.Delay(500, cancellationToken);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
                // a file deleted while it was measured; or the run is over
            }
        }
        return peak;
    }

    private static async Task<List<(TimeSpan Elapsed, string Output)>> TimeQueriesAsync(BenchStack bench, string bucket, List<string> queries, SummaryWindow window)
    {
        var results = new List<(TimeSpan, string)>();
        foreach (var query in queries)
        {
            using var output = new StringWriter();
            var watch = Stopwatch.StartNew();
            var code = await QueryCommand.RunAsync(bench.Aws.S3, bucket, query, QueryCommand.Format.Csv, window.Start, window.End, output, TextWriter.Null, CancellationToken.None);
            if (code != 0)
            {
                throw new InvalidOperationException($"query failed: {query}");
            }
            results.Add((watch.Elapsed, output.ToString()));
            Console.WriteLine(FormattableString.Invariant($"  {watch.Elapsed.TotalSeconds:0.0} s  {query}"));
        }
        return results;
    }

    // The compressed bytes of the three columns' chunks (what a column reader fetches) and the file's rows, from its footer.
    private static async Task<(long Bytes, long Rows)> ColumnBytesAsync(BenchStack bench, string bucket, string key, string folder)
    {
        var path = Path.Combine(folder, "events.parquet");
        using (var response = await bench.Aws.S3.GetObjectAsync(bucket, key))
        {
            await response.WriteResponseStreamToFileAsync(path, false, CancellationToken.None);
        }
        using var duckDb = DuckDb.Open(Path.Combine(folder, "duckdb"), DuckDbLimits.ForFunction(2048));
        using var command = duckDb.CreateCommand();
        var columns = string.Join(", ", ThreeColumns.Select(c => $"'{c}'"));
        command.CommandText = $"""
            SELECT (SELECT CAST(sum(total_compressed_size) AS BIGINT) FROM parquet_metadata('{path}') WHERE path_in_schema IN ({columns})),
                   (SELECT count(*) FROM read_parquet('{path}'))
            """;
        using var reader = command.ExecuteReader();
        reader.Read();
        return (Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture), reader.GetInt64(1));
    }

    private static double CompactionMs(string line) => double.Parse(CompactionTime().Match(line).Groups[1].Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"in (\d+) ms")]
    private static partial Regex CompactionTime();

    // The SQL of each `query "..."` line of the README, in order.
    private static List<string> ReadmeQueries() =>
        [.. File.ReadLines(Path.Combine(RepositoryPaths.Discover().Root, "README.md"))
            .Select(line => QueryLine().Match(line)).Where(m => m.Success).Select(m => m.Groups[1].Value)];

    [GeneratedRegex("""^pipeline query "([^"]+)"$""")]
    private static partial Regex QueryLine();
}
