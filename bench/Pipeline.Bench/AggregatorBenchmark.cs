using System.Diagnostics;
using Amazon.DynamoDBv2.Model;
using Pipeline.Aggregator;
using Pipeline.Events;
using Pipeline.Local.Hosting;
using Pipeline.Processor;

namespace Pipeline.Bench;

/// <summary>Summarizing one window of many events in DynamoDB Local: the run's time and the read capacity it consumed.</summary>
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
        var table = bench.Stack["EventsTable"];

        // Load the window's events in the Processor's item layout (BatchWriteItem: the load is not what is measured).
        var load = Stopwatch.StartNew();
        var step = (window.End - window.Start) / events;
        var items = Enumerable.Range(0, events).Select(i => EventStore.ToItem(new QueuedEvent
        {
            SchemaVersion = 1,
            EventId = $"bench-{i:D8}",
            EventType = (i % 4) switch { 0 => "page_view", 1 => "click", 2 => "signup", _ => "purchase" },
            UserId = i % 3 == 0 ? null : $"u-{i % 5000}",
            AnonymousId = i % 3 == 0 ? $"a-{i % 7000}" : null,
            OccurredAt = window.Start + (step * i),
            ReceivedAt = window.Start + (step * i),
            RequestId = "bench",
        }, TimeSpan.FromDays(90)));
        await Parallel.ForEachAsync(items.Chunk(25), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (chunk, ct) =>
        {
            var request = new Dictionary<string, List<WriteRequest>> { [table] = [.. chunk.Select(item => new WriteRequest(new PutRequest(item)))] };
            while (request.Count > 0)
            {
                var response = await bench.Aws.DynamoDb.BatchWriteItemAsync(request, ct);
                request = response.UnprocessedItems is { Count: > 0 } left ? left : [];
            }
        });
        Console.WriteLine($"loaded {events} events in {load.Elapsed.TotalSeconds:0.0} s");

        var options = LocalAggregator.Options(bench.Stack, TimeSpan.FromHours(1));
        var function = LocalAggregator.Function(bench.Aws, options, new FixedClock(window.End.AddMinutes(1)), new Pipeline.Lambda.FunctionLog(TextWriter.Null, "aggregator"));
        var watch = Stopwatch.StartNew();
        var run = await function.RunAsync(CancellationToken.None);
        var elapsed = watch.Elapsed;
        var summary = (await new SummaryStore(bench.Aws.DynamoDb, bench.Stack["SummariesTable"]).RecentAsync(1, CancellationToken.None)).Single();
        if (summary.TotalEvents != events)
        {
            throw new InvalidOperationException($"The summary counted {summary.TotalEvents} events, not {events}.");
        }

        return string.Join('\n',
            FormattableString.Invariant($"One hour window holding {events} events (8 shards), one run, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores."),
            "",
            "| measurement | value |",
            "|---|---:|",
            FormattableString.Invariant($"| run time (query the window, store, publish) | {elapsed.TotalSeconds:0.00} s |"),
            FormattableString.Invariant($"| events summarized per second | {events / elapsed.TotalSeconds:0} |"),
            FormattableString.Invariant($"| read capacity consumed (ReturnConsumedCapacity) | {run.ReadCapacityUnits:0.#} RCU |"),
            FormattableString.Invariant($"| read capacity per 1,000 events | {run.ReadCapacityUnits * 1000 / events:0.##} RCU |"),
            FormattableString.Invariant($"| summary totalEvents (checked) | {summary.TotalEvents} |"),
            "",
            "The index projects only eventType, userId and anonymousId, so an eventually consistent Query reads about",
            "0.5 RCU per 4 KB of those small projected items, whatever the events' properties weigh.",
            "") + "\n";
    }
}
