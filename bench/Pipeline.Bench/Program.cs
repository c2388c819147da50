using System.Globalization;
using Pipeline.Bench;

// usage: dotnet run -c Release --project bench/Pipeline.Bench -- api|processor|aggregator|query|readers|coldstart|import|faults|cost
//        [--seconds N] [--rate N] [--connections N] [--events N] [--runs N] [--latency-requests N] [--latency-percent N]
//        [--format events|csv|segment] [--import-write-rate N] (import) [--only LogicalId] (coldstart: one function's row, printed, no results file)
var what = args.FirstOrDefault() ?? "api";
int Option(string name, int fallback) =>
    Array.IndexOf(args, $"--{name}") is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
string Text(string name, string fallback) => Array.IndexOf(args, $"--{name}") is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
var format = Text("format", "events");

var report = what switch
{
    "api" => await ApiBenchmark.RunAsync(Option("seconds", 10), Option("connections", 16),
        new LatencyOptions(Option("latency-requests", 100_000), Option("latency-percent", 50))),
    "processor" => await ProcessorBenchmark.RunAsync(Option("events", 5000)),
    "aggregator" => await AggregatorBenchmark.RunAsync(Option("max-events", 10_000_000)),
    "query" => await QueryBenchmark.RunAsync(Option("events", 1_000_000)),
    "readers" => await ReadersBenchmark.RunAsync(Option("events", 1_000_000)),
    "coldstart" => await ColdStartBenchmark.RunAsync(Option("runs", 5), Text("only", "") is { Length: > 0 } only ? only : null),
    "import" => await ImportBenchmark.RunAsync(Option("rows", 1_000_000), Option("rate", 20), Option("memory", 0) is > 0 and var m ? m : null, format,
        Text("import-write-rate", "") is { Length: > 0 } w ? int.Parse(w, CultureInfo.InvariantCulture) : null), // checked as CloudFormation would
    "faults" => await FaultSoak.RunAsync(Option("seconds", 90), Option("rate", 40)),
    "cost" => await Pipeline.Bench.Cost.CostReport.RunAsync(Option("events", 2000)),
    _ => throw new ArgumentException($"unknown benchmark '{what}': api, processor, aggregator, query, readers, coldstart, import, faults or cost"),
};
Console.WriteLine(report);
if (what == "coldstart" && Text("only", "").Length > 0)
{
    // One function's starts, for working on it: printed, not a results file.
    return;
}
// An import of another format than events has its own results file: bench/results/import-csv.md, import-segment.md.
var name = what == "import" && format != "events" ? $"{what}-{format}" : what;
var results = Path.Combine(Pipeline.Local.RepositoryPaths.Discover().Root, "bench", "results", $"{name}.md");
var command = $"bench/run.sh {string.Join(' ', args)}";
await File.WriteAllTextAsync(results, $"# {name} benchmark\n\nProduced by `{command}`.\n\n{report}");
Console.WriteLine($"written to {results}");
if (what == "cost")
{
    // docs/cost.md's table is this report, never written by hand.
    var readme = Path.Combine(Pipeline.Local.RepositoryPaths.Discover().Root, "docs", "cost.md");
    var text = await File.ReadAllTextAsync(readme);
    const string begin = "<!-- cost:begin -->", end = "<!-- cost:end -->";
    var from = text.IndexOf(begin, StringComparison.Ordinal) + begin.Length;
    await File.WriteAllTextAsync(readme, $"{text[..from]}\n{report.Trim()}\n{text[text.IndexOf(end, StringComparison.Ordinal)..]}");
    Console.WriteLine($"copied into {readme}");
}
