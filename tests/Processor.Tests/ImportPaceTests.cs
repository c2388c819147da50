using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Pipeline.Events;
using Pipeline.Lambda;
using Pipeline.Tests;

namespace Pipeline.Processor.Tests;

/// <summary>
/// Imported events are stored at most at the rate (ImportWriteRate), spread over the invocations that read the import
/// events queue, so a backfill leaves the table to live events; live events in the same batch never wait for it.
/// </summary>
public sealed class ImportPaceTests
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(100);

    [Fact]
    public async Task Turns_come_at_the_rate_on_the_clock_none_after_the_budget_and_missed_ones_in_no_burst()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var pace = new ImportPace(10, clock);
        var first = pace.WaitTurnAsync(CancellationToken.None);
        Assert.True(first.IsCompletedSuccessfully); // the first goes at once
        Assert.True(await first);
        var second = pace.WaitTurnAsync(CancellationToken.None);
        var third = pace.WaitTurnAsync(CancellationToken.None);
        clock.Advance(Step - TimeSpan.FromMilliseconds(1));
        Assert.False(second.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(await second);
        Assert.False(third.IsCompleted);

        using var budget = new CancellationTokenSource();
        await budget.CancelAsync();
        Assert.False(await pace.WaitTurnAsync(budget.Token)); // the budget ended before its turn: no write
        clock.Advance(Step);
        Assert.True(await third);

        // Turns nobody took while the writes stalled are not made up in a burst: after a quiet second, one goes, the next waits.
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(pace.WaitTurnAsync(CancellationToken.None).IsCompletedSuccessfully);
        var next = pace.WaitTurnAsync(CancellationToken.None);
        Assert.False(next.IsCompleted);
        clock.Advance(Step);
        Assert.True(await next);
    }

    [Fact]
    public void Unpaced_turns_never_wait()
    {
        var pace = new ImportPace(0, new FakeTimeProvider(DateTimeOffset.UtcNow));
        for (var i = 0; i < 1000; i++)
        {
            Assert.True(pace.WaitTurnAsync(CancellationToken.None).IsCompletedSuccessfully);
        }
    }

    [Fact]
    public async Task An_invocation_stores_imported_events_at_its_part_of_the_rate_and_its_live_event_at_once()
    {
        await using var harness = await ProcessorHarness.StartAsync();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // 20 a second over the two invocations on the import queue: one write every 100 ms of the clock in this one.
        var options = InProcess.ProcessorOptions(harness.Stack) with { ImportWriteRate = 20 };
        Assert.Equal(10, options.ImportWriteRatePerInvocation);
        var function = new ProcessorFunction(options, harness.Aws.DynamoDb, harness.Aws.S3, harness.Aws.Sqs, clock, new FunctionLog(harness.Log, "processor"));
        var imported = Enumerable.Range(0, 4).Select(i => ProcessorHarness.Event(i) with { ImportFile = "s3://imports/uploads/a.jsonl", ImportLine = i + 1 }).ToList();
        var live = ProcessorHarness.Event(9);
        var batch = EventBatchMessage.Pack(imported.Select(e => JsonSerializer.Serialize(e, EventJsonContext.Default.QueuedEvent))).Single();

        var invocation = ProcessorHarness.InvokeAsync(function, [ProcessorHarness.Message(batch), ProcessorHarness.Message(live)]);

        // The live event and the first imported one are written at once; the other three wait for the clock.
        Assert.True(await Eventually.UntilAsync(async () => (await StoredAsync(harness)).Count == 2, TimeSpan.FromSeconds(20)));
        for (var stored = 2; stored <= imported.Count; stored++)
        {
            await Eventually.QuietAsync();
            var ids = await StoredAsync(harness);
            Assert.Contains(live.EventId, ids);
            Assert.Equal(stored, ids.Count); // nothing more until the clock moves on
            Assert.False(invocation.IsCompleted);
            clock.Advance(Step);
            Assert.True(await Eventually.UntilAsync(async () => (await StoredAsync(harness)).Count == stored + 1, TimeSpan.FromSeconds(20)));
        }

        Assert.Empty(await invocation);
        Assert.Equal(imported.Select(e => e.EventId).Append(live.EventId).Order(StringComparer.Ordinal), (await StoredAsync(harness)).Order(StringComparer.Ordinal));
        Assert.Equal(5, (await harness.ArchivedEventsAsync()).Count);
    }

    [Fact]
    public async Task Imported_events_whose_turn_comes_after_the_budget_are_not_acknowledged_and_their_redelivery_stores_each_once()
    {
        await using var harness = await ProcessorHarness.StartAsync();
        // A clock that never moves: only the first imported write gets its turn before the invocation's budget ends. More
        // imported events than the Processor has writers come first in the batch, and the live event is not held behind them.
        var options = InProcess.ProcessorOptions(harness.Stack) with { ImportWriteRate = 20 };
        var paced = new ProcessorFunction(options, harness.Aws.DynamoDb, harness.Aws.S3, harness.Aws.Sqs, new FakeTimeProvider(DateTimeOffset.UtcNow),
            new FunctionLog(harness.Log, "processor"));
        var imported = Enumerable.Range(0, 12).Select(i => ProcessorHarness.Event(i) with { ImportFile = "s3://imports/uploads/b.jsonl", ImportLine = i + 1 }).ToList();
        var live = ProcessorHarness.Event(9);
        var batch = ProcessorHarness.Message(EventBatchMessage.Pack(imported.Select(e => JsonSerializer.Serialize(e, EventJsonContext.Default.QueuedEvent))).Single());
        var messages = new[] { batch, ProcessorHarness.Message(live) };

        Assert.Equal([batch.MessageId], await ProcessorHarness.InvokeAsync(paced, messages, TimeSpan.FromSeconds(10)));
        Assert.Equal(2, (await StoredAsync(harness)).Count); // the live event and one imported
        Assert.Contains("11 imported events were not written: the time ran out before their turn", harness.Log.ToString(), StringComparison.Ordinal);

        // SQS delivers the message again: the rest is stored, and what was stored is not stored twice.
        Assert.Empty(await ProcessorHarness.InvokeAsync(harness.Function(), [batch]));
        Assert.Equal(imported.Select(e => e.EventId).Append(live.EventId).Order(StringComparer.Ordinal), (await StoredAsync(harness)).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("100", 100)]
    [InlineData("500.5", 500.5)] // a Number parameter may have a fraction: it must not stop the Processor
    [InlineData("40000", 40000)]
    public void The_rate_is_read_from_the_environment(string value, double rate)
    {
        var warnings = new List<string>();
        Assert.Equal(rate, ProcessorOptions.FromEnvironment(Environment(value), warnings.Add).ImportWriteRate);
        Assert.Empty(warnings);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("99")]
    [InlineData("40001")]
    [InlineData("-5")]
    [InlineData("fast")]
    [InlineData("NaN")]
    public void A_damaged_rate_leaves_imports_unpaced_with_a_warning_naming_it_and_never_stops_the_processor(string value)
    {
        var warnings = new List<string>();

        var options = ProcessorOptions.FromEnvironment(Environment(value), warnings.Add);

        Assert.Equal(0, options.ImportWriteRate);
        Assert.Contains("Imports__WriteRate", Assert.Single(warnings), StringComparison.Ordinal);
    }

    private static Func<string, string?> Environment(string rate) => name => name switch
    {
        "Events__TableName" => "events",
        "Archive__BucketName" => "archive",
        "Queue__Urls" => "http://localhost/000000000000/events",
        "Imports__WriteRate" => rate,
        _ => null,
    };

    private static async Task<List<string>> StoredAsync(ProcessorHarness harness) =>
        [.. (await harness.ItemsAsync()).Select(i => i["eventId"].S)];
}
