using System.Text.Json.Nodes;
using Amazon.DynamoDBv2.Model;
using Pipeline.Local.Environment;
using Pipeline.Sns;

namespace Pipeline.Aggregator.Tests;

public sealed class AggregatorTests
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    // A complete hour window two hours back, so real time never makes it incomplete.
    private static SummaryWindow PastWindow() => SummaryWindows.Containing(DateTimeOffset.UtcNow - TimeSpan.FromHours(2), Hour);

    [Fact]
    public async Task A_summary_of_known_events_with_duplicates_among_them_has_exact_counts_and_arrives_through_the_topic()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var w = PastWindow();
        var inside = new[]
        {
            AggregatorHarness.Event(w.Start, "page_view", user: "a"),
            AggregatorHarness.Event(w.Start.AddMinutes(5), "page_view", user: "a"),
            AggregatorHarness.Event(w.Start.AddMinutes(6), "page_view", user: "b"),
            AggregatorHarness.Event(w.Start.AddMinutes(7), "signup", anonymous: "x"),
            AggregatorHarness.Event(w.Start.AddMinutes(8), "signup", anonymous: "x"),
            AggregatorHarness.Event(w.Start.AddMinutes(9), "signup", user: "c", anonymous: "y"),
            AggregatorHarness.Event(w.End.AddTicks(-1), "purchase", user: "a"),
        };
        var outside = new[]
        {
            AggregatorHarness.Event(w.Start.AddTicks(-1), "page_view", user: "z"),
            AggregatorHarness.Event(w.End, "page_view", user: "z"),
        };
        await harness.StoreAsync([.. inside, .. outside]);
        await harness.StoreAsync(inside[..4]); // redelivered: duplicates

        var run = await harness.Function(Hour, new TestClock(w.End.AddMinutes(1))).RunAsync(CancellationToken.None);

        Assert.Equal([w.Start], run.Published);
        var envelope = Assert.Single(await harness.ReceivedAsync());
        Assert.StartsWith("Event summary ", envelope["Subject"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(w.Start.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture), envelope["MessageAttributes"]!["windowStart"]!["Value"]!.GetValue<string>());
        var summary = JsonNode.Parse(envelope["Message"]!.GetValue<string>())!;
        Assert.Equal(7, summary["totalEvents"]!.GetValue<long>());
        Assert.Equal(3, summary["byEventType"]!["page_view"]!.GetValue<long>());
        Assert.Equal(3, summary["byEventType"]!["signup"]!.GetValue<long>());
        Assert.Equal(1, summary["byEventType"]!["purchase"]!.GetValue<long>());
        Assert.Equal(3, summary["uniqueUsers"]!.GetValue<long>());
        Assert.Equal(2, summary["uniqueAnonymousIds"]!.GetValue<long>());
        Assert.Equal(w.Start, summary["windowStart"]!.GetValue<DateTimeOffset>());
        Assert.Equal(w.End, summary["windowEnd"]!.GetValue<DateTimeOffset>());
        Assert.Equal(13, run.Archived); // the redelivered four are archived again...
        Assert.Equal(11, run.EventsRead); // ...and read with the window's hour, but counted once
    }

    [Fact]
    public async Task Overlapping_runs_store_each_window_once_and_every_copy_published_is_the_same_summary()
    {
        // No reserved concurrency on Lambda (see StructureTests): two scheduled runs may overlap.
        await using var harness = await AggregatorHarness.StartAsync();
        var first = PastWindow();
        var windows = Enumerable.Range(0, 3).Select(i => SummaryWindows.Containing(first.Start + i * Hour, Hour)).ToList();
        await harness.StoreAsync(windows.SelectMany((w, i) => Enumerable.Range(0, i + 1).Select(n => AggregatorHarness.Event(w.Start.AddMinutes(n), "page_view", user: $"u{n}"))));
        // A first run starts the series at the first window; the overlapping runs then catch up the other two.
        await harness.Function(Hour, new TestClock(windows[0].End.AddMinutes(1))).RunAsync(CancellationToken.None);
        // Each run has its own clock, so two runs that both summarized a window would publish different generatedAt.
        var runs = Enumerable.Range(0, 4).Select(i => harness.Function(Hour, new TestClock(windows[^1].End.AddMinutes(1).AddSeconds(i)))).ToList();

        await Task.WhenAll(runs.Select(run => run.RunAsync(CancellationToken.None)));

        var stored = (await harness.Aws.DynamoDb.QueryAsync(new QueryRequest
        {
            TableName = harness.Stack["SummariesTable"],
            KeyConditionExpression = "series = :s",
            ExpressionAttributeValues = new() { [":s"] = new AttributeValue("summaries") },
            ConsistentRead = true,
        })).Items;
        Assert.Equal(3, stored.Count); // each window once
        Assert.All(stored, item => Assert.Equal("published", item["status"].S));
        var received = (await harness.ReceivedAsync()).Select(e => JsonNode.Parse(e["Message"]!.GetValue<string>())!).ToList();
        var byWindow = received.GroupBy(s => s["windowStart"]!.GetValue<DateTimeOffset>()).ToDictionary(g => g.Key, g => g.Select(s => s.ToJsonString()).Distinct().ToList());
        Assert.Equal(windows.Select(w => w.Start), byWindow.Keys.Order());
        Assert.All(byWindow.Values, copies => Assert.Single(copies)); // a reader that keeps one per windowStart loses nothing
        Assert.Equal([1L, 2L, 3L], windows.Select(w => JsonNode.Parse(byWindow[w.Start][0])!["totalEvents"]!.GetValue<long>()));
    }

    [Fact]
    public async Task Events_stored_late_within_the_lookback_are_counted_in_a_revised_summary_and_later_ones_are_not()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var w = PastWindow();
        var options = harness.Options(Hour) with { Lookback = TimeSpan.FromMinutes(60) };
        await harness.StoreAsync(Enumerable.Range(0, 3).Select(i => AggregatorHarness.Event(w.Start.AddMinutes(i), "page_view", user: $"u{i}")));
        await harness.Function(options, new TestClock(w.End.AddMinutes(1))).RunAsync(CancellationToken.None);
        var first = Assert.Single(await harness.ReceivedAsync());

        // Retried records: received in the window, stored after it was summarized.
        await harness.StoreAsync([AggregatorHarness.Event(w.Start.AddMinutes(10), "signup", user: "late"), AggregatorHarness.Event(w.End.AddTicks(-1), "page_view", user: "late")]);
        var revisedRun = await harness.Function(options, new TestClock(w.End.AddMinutes(20))).RunAsync(CancellationToken.None);
        var againRun = await harness.Function(options, new TestClock(w.End.AddMinutes(25))).RunAsync(CancellationToken.None);
        var revised = Assert.Single(await harness.ReceivedAsync());
        await harness.StoreAsync([AggregatorHarness.Event(w.Start.AddMinutes(30), "signup", user: "too-late")]);
        var pastLookback = await harness.Function(options, new TestClock(w.End + options.Settle + options.Lookback + TimeSpan.FromMinutes(1))).RunAsync(CancellationToken.None);

        Assert.Equal(3, JsonNode.Parse(first["Message"]!.GetValue<string>())!["totalEvents"]!.GetValue<long>());
        Assert.Equal([w.Start], revisedRun.Published);
        Assert.Empty(againRun.Published);
        var summary = JsonNode.Parse(revised["Message"]!.GetValue<string>())!;
        Assert.Equal(5, summary["totalEvents"]!.GetValue<long>());
        Assert.Equal(1, summary["revision"]!.GetValue<int>());
        Assert.Equal(1, summary["byEventType"]!["signup"]!.GetValue<long>());
        Assert.EndsWith("(revision 1)", revised["Subject"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("1", revised["MessageAttributes"]!["revision"]!["Value"]!.GetValue<string>());
        Assert.DoesNotContain(w.Start, pastLookback.Published); // past the look-back: not revised (the README says so)
        Assert.DoesNotContain(await harness.ReceivedAsync(waitSeconds: 0), e => JsonNode.Parse(e["Message"]!.GetValue<string>())!["windowStart"]!.GetValue<DateTimeOffset>() == w.Start);
    }

    [Fact]
    public async Task A_window_with_ten_thousand_event_types_lists_the_top_ones_totals_the_rest_and_is_published()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var w = PastWindow();
        var events = Enumerable.Range(0, 10_000).Select(i => AggregatorHarness.Event(w.Start.AddMilliseconds(i), $"type.{i:D5}.{new string('x', 40)}", user: "u"))
            .Concat(Enumerable.Range(0, 10).Select(i => AggregatorHarness.Event(w.Start.AddSeconds(20 + i), "frequent", user: "u")))
            .ToList();
        // What the Processor hands to the archive queue, without 1,001 invocations.
        await harness.ArchiveAsync(events);

        var run = await harness.Function(harness.Options(Hour) with { TopEventTypes = 100 }, new TestClock(w.End.AddMinutes(1))).RunAsync(CancellationToken.None);

        Assert.Equal([w.Start], run.Published);
        var message = Assert.Single(await harness.ReceivedAsync())["Message"]!.GetValue<string>();
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(message), 1, 256 * 1024);
        var summary = JsonNode.Parse(message)!;
        Assert.Equal(10_010, summary["totalEvents"]!.GetValue<long>());
        Assert.Equal(10_001, summary["eventTypes"]!.GetValue<long>());
        var listed = summary["byEventType"]!.AsObject();
        Assert.Equal(100, listed.Count);
        Assert.Equal(10, listed["frequent"]!.GetValue<long>()); // the most frequent first
        Assert.Equal(10_010 - listed.Sum(t => t.Value!.GetValue<long>()), summary["otherEvents"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_first_run_that_comes_late_still_summarizes_the_windows_with_events_within_the_lookback()
    {
        // The run that should have summarized w failed (an outage); the first successful run is a window later.
        await using var harness = await AggregatorHarness.StartAsync();
        var w = PastWindow();
        await harness.StoreAsync([AggregatorHarness.Event(w.Start.AddMinutes(1), "page_view", user: "a")]);

        var run = await harness.Function(harness.Options(Hour) with { Lookback = TimeSpan.FromMinutes(90) }, new TestClock(w.End + Hour + TimeSpan.FromMinutes(1))).RunAsync(CancellationToken.None);

        Assert.Equal([w.Start, w.End], run.Published); // w with its event, and the latest complete window
        var totals = (await harness.ReceivedAsync()).Select(e => JsonNode.Parse(e["Message"]!.GetValue<string>())!)
            .ToDictionary(s => s["windowStart"]!.GetValue<DateTimeOffset>(), s => s["totalEvents"]!.GetValue<long>());
        Assert.Equal(1, totals[w.Start]);
        Assert.Equal(0, totals[w.End]);
    }

    [Fact]
    public async Task A_rerun_publishes_nothing_new()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var w = PastWindow();
        await harness.StoreAsync([AggregatorHarness.Event(w.Start.AddMinutes(1), "a", user: "u")]);
        var clock = new TestClock(w.End.AddMinutes(1));
        await harness.Function(Hour, clock).RunAsync(CancellationToken.None);

        clock.Now = w.End.AddMinutes(50);
        var again = await harness.Function(Hour, clock).RunAsync(CancellationToken.None);

        Assert.Empty(again.Published);
        Assert.Single(await harness.ReceivedAsync());
    }

    [Fact]
    public async Task Missed_runs_are_caught_up_window_by_window()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var window = TimeSpan.FromMinutes(10);
        var first = SummaryWindows.Containing(DateTimeOffset.UtcNow - TimeSpan.FromHours(2), window);
        await harness.StoreAsync(Enumerable.Range(0, 4).Select(i => AggregatorHarness.Event(first.Start + (window * i) + TimeSpan.FromMinutes(1), "tick", user: $"u{i}")));
        var clock = new TestClock(first.End.AddMinutes(1));
        await harness.Function(window, clock).RunAsync(CancellationToken.None);

        clock.Now = first.End + (window * 3) + TimeSpan.FromMinutes(1);
        var catchUp = await harness.Function(window, clock).RunAsync(CancellationToken.None);

        Assert.Equal([first.End, first.End + window, first.End + (window * 2)], catchUp.Published);
        var totals = (await harness.ReceivedAsync()).Select(e => JsonNode.Parse(e["Message"]!.GetValue<string>())!)
            .OrderBy(s => s["windowStart"]!.GetValue<DateTimeOffset>()).Select(s => s["totalEvents"]!.GetValue<long>());
        Assert.Equal([1L, 1, 1, 1], totals);
    }

    [Fact]
    public async Task A_crash_after_storing_and_before_publishing_is_published_by_the_next_run_once()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var w = PastWindow();
        await harness.StoreAsync([AggregatorHarness.Event(w.Start.AddMinutes(1), "a", user: "u")]);
        var clock = new TestClock(w.End.AddMinutes(1));
        var unreachable = SnsClient.Create(LocalAws.Credentials, Amazon.RegionEndpoint.USEast1, new Uri("http://127.0.0.1:9/"));

        await Assert.ThrowsAnyAsync<Exception>(() => harness.Function(Hour, clock, unreachable).RunAsync(CancellationToken.None));
        var stored = (await harness.Aws.DynamoDb.ScanAsync(new ScanRequest { TableName = harness.Stack["SummariesTable"] })).Items;
        Assert.Equal("stored", Assert.Single(stored)["status"].S);
        Assert.Empty(await harness.ReceivedAsync(waitSeconds: 0));

        var next = await harness.Function(Hour, clock).RunAsync(CancellationToken.None);
        var after = await harness.Function(Hour, clock).RunAsync(CancellationToken.None);

        Assert.Equal([w.Start], next.Published);
        Assert.Empty(after.Published);
        Assert.Single(await harness.ReceivedAsync());
        var item = Assert.Single((await harness.Aws.DynamoDb.ScanAsync(new ScanRequest { TableName = harness.Stack["SummariesTable"] })).Items);
        Assert.Equal("published", item["status"].S);
        Assert.False(string.IsNullOrEmpty(item["messageId"].S));
    }

    [Fact]
    public async Task Rejected_records_and_the_dead_letter_depth_are_reported()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        // A day-long window around now, so the rejections written during the test fall inside it.
        var window = TimeSpan.FromDays(1);
        var now = DateTimeOffset.UtcNow;
        var w = SummaryWindows.Containing(now, window);
        await harness.StoreRawAsync(["not an event", "{ \"schemaVersion\": 0 }"]);
        await harness.StoreAsync([AggregatorHarness.Event(now, "a", user: "u")]);
        var dlq = harness.Stack.Resources["EventsDeadLetterQueue"].Ref;
        await harness.Aws.Sqs.SendMessageAsync(dlq, "dead 1");
        await harness.Aws.Sqs.SendMessageAsync(dlq, "dead 2");
        var clock = new TestClock(w.End.AddMinutes(1));

        var run = await harness.Function(window, clock).RunAsync(CancellationToken.None);

        Assert.Equal([w.Start], run.Published);
        var summary = JsonNode.Parse(Assert.Single(await harness.ReceivedAsync())["Message"]!.GetValue<string>())!;
        Assert.Equal(2, summary["rejected"]!.GetValue<long>());
        Assert.Equal(2, summary["deadLetterDepth"]!.GetValue<long>());
        Assert.Equal(1, summary["totalEvents"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_clients_resend_accepted_again_in_the_next_window_is_counted_once_in_the_window_it_was_stored_in()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var w = PastWindow();
        var original = AggregatorHarness.Event(w.End.AddMinutes(-1), "purchase", user: "u");
        var resent = original with { ReceivedAt = w.End.AddMinutes(1), RequestId = "sent-again" }; // the Api accepted it again

        await harness.StoreAsync([original]);
        await harness.StoreAsync([resent]);
        var clock = new TestClock(w.End.AddMinutes(1));
        var first = await harness.Function(Hour, clock).RunAsync(CancellationToken.None);
        clock.Now = w.End + Hour + TimeSpan.FromMinutes(1);
        var second = await harness.Function(Hour, clock).RunAsync(CancellationToken.None);

        Assert.Equal([w.Start, w.End], [.. first.Published, .. second.Published]);
        var totals = (await harness.ReceivedAsync()).Select(e => JsonNode.Parse(e["Message"]!.GetValue<string>())!)
            .ToDictionary(s => s["windowStart"]!.GetValue<DateTimeOffset>(), s => s["totalEvents"]!.GetValue<long>());
        Assert.Equal(1, totals[w.Start]);
        Assert.Equal(0, totals[w.End]);
    }
}
