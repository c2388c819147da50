using System.Diagnostics;
using Pipeline.Aggregator;
using Pipeline.Events;
using Pipeline.Local.Hosting;

namespace Pipeline.Bench;

/// <summary>Archiving and summarizing one window of many events: the run's time.</summary>
internal static class AggregatorBenchmark
{
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    public static async Task<string> RunAsync(int events)
    {
        await using var bench = await BenchStack.StartAsync();
        var window = SummaryWindows.Containing(DateTimeOffset.UtcNow - TimeSpan.FromHours(2), TimeSpan.FromHours(1));

        // The window's events on the archive queue, as the Processor leaves them once stored (the load is not what is measured).
        var load = Stopwatch.StartNew();
        var step = (window.End - window.Start) / events;
        var bodies = Pipeline.Events.EventBatchMessage.Pack(Enumerable.Range(0, events).Select(i => System.Text.Json.JsonSerializer.Serialize(new QueuedEvent
        {
            SchemaVersion = QueuedEvent.CurrentSchemaVersion,
            EventId = $"bench-{i:D8}",
            EventType = (i % 4) switch { 0 => "page_view", 1 => "click", 2 => "signup", _ => "purchase" },
            UserId = i % 3 == 0 ? null : $"u-{i % 5000}",
            AnonymousId = i % 3 == 0 ? $"a-{i % 7000}" : null,
            OccurredAt = window.Start + (step * i),
            ReceivedAt = window.Start + (step * i),
            RequestId = "bench",
        }, EventJsonContext.Default.QueuedEvent)));
        await Parallel.ForEachAsync(bodies, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (body, ct) =>
            await bench.Aws.Sqs.SendMessageAsync(bench.Stack.Resources["ArchiveQueue"].Ref, body, ct));
        Console.WriteLine($"loaded {events} events in {load.Elapsed.TotalSeconds:0.0} s");

        var options = LocalAggregator.Options(bench.Stack, TimeSpan.FromHours(1));
        var function = LocalAggregator.Function(bench.Aws, options, new FixedClock(window.End.AddMinutes(1)), new Pipeline.Lambda.FunctionLog(TextWriter.Null, "aggregator"));
        var watch = Stopwatch.StartNew();
        var run = await function.RunAsync(CancellationToken.None);
        var elapsed = watch.Elapsed;
        var summary = (await new SummaryStore(bench.Aws.DynamoDb, bench.Stack["SummariesTable"], TimeProvider.System).RecentAsync(1, CancellationToken.None)).Single();
        if (summary.TotalEvents != events)
        {
            throw new InvalidOperationException($"The summary counted {summary.TotalEvents} events, not {events}.");
        }

        return string.Join('\n',
            FormattableString.Invariant($"One hour window holding {events} events, one run, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores."),
            "",
            "| measurement | value |",
            "|---|---:|",
            FormattableString.Invariant($"| run time (archive the events, count the window from the archive, store, publish) | {elapsed.TotalSeconds:0.00} s |"),
            FormattableString.Invariant($"| events archived and summarized per second | {events / elapsed.TotalSeconds:0} |"),
            FormattableString.Invariant($"| events archived / read back | {events} / {run.EventsRead} |"),
            FormattableString.Invariant($"| summary totalEvents (checked) | {summary.TotalEvents} |"),
            "",
            "The run drains the archive queue into one S3 object for the hour, then counts the window from that object:",
            "no DynamoDB read at all.",
            "") + "\n";
    }
}
