using System.Diagnostics;
using System.Globalization;
using Pipeline.Aggregator;
using Pipeline.Archive;
using Pipeline.Local;
using Pipeline.Storage;
using Pipeline.Summaries;

namespace Pipeline.Bench;

/// <summary>
/// The archive readers that look at each event (<c>replay --dry-run</c>, <c>plan check</c>) over one hour of events, raw
/// and then compacted, each run as the operator runs it: the published command-line tool, a process of its own, whose
/// peak RSS and elapsed time GNU time reports. Their memory must not grow with the hour's volume: run it at two volumes.
/// </summary>
internal static class ReadersBenchmark
{
    // A plan over the generated types: purchases need an amount, searches a query (which they lack, so some are flagged).
    private const string Plan = """
        {
          "mode": "flag",
          "events": {
            "purchase": { "properties": { "type": "object", "required": ["amount"] } },
            "search": { "properties": { "type": "object", "required": ["query"] } },
            "page_view": {}, "signup": {}, "checkout.completed": {}
          }
        }
        """;

    public static async Task<string> RunAsync(int events)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"pipeline-readers-bench-{Guid.NewGuid():N}");
        try
        {
            var cli = Path.Combine(folder, "cli");
            await RunAsync("dotnet", ["publish", "src/Cli", "-c", "Release", "-o", cli, "--nologo", "-v", "q"], TimeSpan.FromMinutes(10));
            var plan = Path.Combine(folder, "plan.json");
            await File.WriteAllTextAsync(plan, Plan);
            await using var bench = await BenchStack.StartAsync();
            var window = SummaryWindows.Containing(DateTimeOffset.UtcNow - TimeSpan.FromHours(2), TimeSpan.FromHours(1));
            var (objects, bytes, load) = await AggregatorBenchmark.LoadAsync(bench, new AggregatorBenchmark.Shape("batch", 1000, events), window);
            Console.WriteLine(FormattableString.Invariant($"{events:N0} events: {objects} objects, {bytes / 1048576.0:0} MB in {load.TotalSeconds:0} s"));
            var stack = new[] { "--stack", bench.Stack.StackName, "--bucket", bench.Stack["ArchiveBucket"], "--fauxqs", bench.Aws.Endpoints.Fauxqs.ToString() };
            var range = new[] { "--from", window.Start.ToString("O"), "--to", window.End.ToString("O") };
            string[] replay = ["replay", .. range, "--dry-run", "--checkpoint", Path.Combine(folder, "checkpoint.json"), .. stack];
            string[] check = ["plan", "check", plan, .. range, .. stack];

            var rows = new List<string>();
            foreach (var form in new[] { "raw", "compacted" })
            {
                if (form == "compacted")
                {
                    var watch = Stopwatch.StartNew();
                    await RunAsync("dotnet", [Path.Combine(cli, "Pipeline.Cli.dll"), "compact", "--hour", window.Start.ToString("O"), .. stack,
                        "--endpoint", bench.Aws.Endpoints.DynamoDb.ToString()], TimeSpan.FromMinutes(30));
                    Console.WriteLine(FormattableString.Invariant($"  compacted in {watch.Elapsed.TotalSeconds:0} s"));
                }
                foreach (var (name, args) in new[] { ("replay --dry-run", replay), ("plan check", check) })
                {
                    var (output, peakKb, seconds) = await MeasureAsync(cli, args);
                    var answer = name == "plan check" ? PlanTotal(output) : output.Split('\n').First(l => l.StartsWith("Would replay", StringComparison.Ordinal)).Split(' ')[2];
                    rows.Add(string.Create(CultureInfo.InvariantCulture,
                        $"| {name} | {form} | {seconds:0.0} s | {events / seconds:N0} | {peakKb / 1024.0:0} MB | "
                            + $"{answer} ({(answer == events.ToString(CultureInfo.InvariantCulture) ? "every event once" : "WRONG")}) |"));
                    Console.WriteLine(rows[^1]);
                }
            }
            var lines = new List<string>
            {
                string.Create(CultureInfo.InvariantCulture, $"One hour of {events:N0} events, one run, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, "
                    + $"{Environment.ProcessorCount} cores, linux-x64."),
                string.Create(CultureInfo.InvariantCulture, $"Archived as the Processor archives it: {objects:N0} gzip JSON-lines objects of 1,000 events, "
                    + $"{bytes / 1048576.0:0.0} MB; then compacted with `compact`."),
                string.Create(CultureInfo.InvariantCulture, $"Each reader is the published CLI (Release) as its own process, against the local servers; "
                    + $"DuckDB's limit is {HourEvents.Limits.MemoryLimitMegabytes} MB and {HourEvents.Limits.Threads} thread(s)."),
                "",
                "| reader | hour | elapsed | events/s | peak RSS (GNU time) | events read |",
                "|---|---|---:|---:|---:|---|",
            };
            lines.AddRange(rows);
            lines.Add("");
            lines.Add("Each hour is downloaded to a temporary folder and read by DuckDB in eventId order, each eventId once: DuckDB sorts within");
            lines.Add("its memory limit and spills to that folder past it, and the readers hold one batch of events at a time.");
            return string.Join('\n', lines) + "\n";
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // The total of plan check's "events" column.
    private static string PlanTotal(string output) => output.Split('\n')
        .Select(l => l.Split('│', StringSplitOptions.TrimEntries))
        .Where(c => c.Length > 3 && long.TryParse(c[2], NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out _))
        .Sum(c => long.Parse(c[2], NumberStyles.AllowThousands, CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture);

    private static async Task<(string Output, long PeakKb, double Seconds)> MeasureAsync(string cli, string[] args)
    {
        var report = Path.GetTempFileName();
        var output = await RunAsync("/usr/bin/time", ["-f", "%M %e", "-o", report, "dotnet", Path.Combine(cli, "Pipeline.Cli.dll"), .. args], TimeSpan.FromMinutes(60));
        var measured = (await File.ReadAllTextAsync(report)).Trim().Split('\n')[^1].Split(' ');
        File.Delete(report);
        return (output, long.Parse(measured[0], CultureInfo.InvariantCulture), double.Parse(measured[1], CultureInfo.InvariantCulture));
    }

    private static async Task<string> RunAsync(string file, string[] args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Pipeline.Local.RepositoryPaths.Discover().Root,
        };
        start.Environment["COLUMNS"] = "200";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cancel.Token);
        return process.ExitCode == 0
            ? await stdout
            : throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}\n{await stdout}");
    }
}
