using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2.Model;
using Pipeline.Events;
using Pipeline.Local.Emulators;
using Pipeline.Sns;
using Pipeline.Storage;
using Pipeline.Summaries;
using Pipeline.Tests;

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
        Assert.Equal(
            w.Start.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            envelope["MessageAttributes"]!["windowStart"]!["Value"]!.GetValue<string>());
        var summary = JsonNode.Parse(envelope["Message"]!.GetValue<string>())!;
        Assert.Equal(7, summary["totalEvents"]!.GetValue<long>());
        Assert.Equal(3, summary["byEventType"]!["page_view"]!.GetValue<long>());
        Assert.Equal(3, summary["byEventType"]!["signup"]!.GetValue<long>());
        Assert.Equal(1, summary["byEventType"]!["purchase"]!.GetValue<long>());
        Assert.Equal(3, summary["uniqueUsers"]!.GetValue<long>());
        Assert.Equal(2, summary["uniqueAnonymousIds"]!.GetValue<long>());
        Assert.Equal(w.Start, summary["windowStart"]!.GetValue<DateTimeOffset>());
        Assert.Equal(w.End, summary["windowEnd"]!.GetValue<DateTimeOffset>());
        Assert.Equal(11, run.EventsRead); // the redelivered four are archived again, and read with the window's hour, but counted once
    }

    [Fact]
    public async Task The_summary_counts_the_events_the_tracking_plan_flagged_per_event_type_each_once()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var w = PastWindow();
        PlanCheck Check(string status) => new() { Version = 2, Status = status, ViolationCount = status == PlanCheck.Flagged ? 1 : 0 };
        var events = new[]
        {
            AggregatorHarness.Event(w.Start.AddMinutes(1), "page_view", user: "a") with { Plan = Check(PlanCheck.Flagged) },
            AggregatorHarness.Event(w.Start.AddMinutes(2), "page_view", user: "a") with { Plan = Check(PlanCheck.Flagged) },
            AggregatorHarness.Event(w.Start.AddMinutes(3), "page_view", user: "a") with { Plan = Check(PlanCheck.Passed) },
            AggregatorHarness.Event(w.Start.AddMinutes(4), "signup", user: "b") with { Plan = Check(PlanCheck.Flagged) },
            AggregatorHarness.Event(w.Start.AddMinutes(5), "purchase", user: "b"), // no plan
        };
        await harness.StoreAsync(events);
        await harness.StoreAsync(events[..1]); // a redelivery: counted once

        await harness.Function(Hour, new TestClock(w.End.AddMinutes(1))).RunAsync(CancellationToken.None);

        var summary = (await new SummaryStore(harness.Aws.DynamoDb, harness.Stack["SummariesTable"], TimeProvider.System).GetAsync(w.Start, CancellationToken.None))!.Summary;
        Assert.Equal(new Dictionary<string, long> { ["page_view"] = 2, ["signup"] = 1 }, summary.PlanViolations);
        Assert.Equal(5, summary.TotalEvents);
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

        var stored = await harness.SummaryItemsAsync();
        Assert.Equal(3, stored.Count); // each window once
        Assert.All(stored, item => Assert.Equal("published", item["status"].S));
        var received = (await harness.ReceivedAsync()).Select(e => JsonNode.Parse(e["Message"]!.GetValue<string>())!).ToList();
        var byWindow = received.GroupBy(s => s["windowStart"]!.GetValue<DateTimeOffset>()).ToDictionary(g => g.Key, g => g.Select(s => s.ToJsonString()).Distinct().ToList());
        Assert.Equal(windows.Select(w => w.Start), byWindow.Keys.Order());
        Assert.All(byWindow.Values, copies => Assert.Single(copies)); // a reader that keeps one per windowStart loses nothing
        Assert.Equal([1L, 2L, 3L], windows.Select(w => JsonNode.Parse(byWindow[w.Start][0])!["totalEvents"]!.GetValue<long>()));
    }

    [Fact]
    public async Task A_window_is_counted_again_by_every_run_up_to_the_first_that_starts_after_its_end_settle_and_lookback()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var w = PastWindow();
        var options = harness.Options(Hour) with { Lookback = TimeSpan.FromMinutes(60) };
        var noMarker = TimeSpan.FromDays(1); // the Processor leaves no late marker: only the look-back can count them
        var closes = w.End + options.Settle + options.Lookback;
        await harness.StoreAsync(Enumerable.Range(0, 3).Select(i => AggregatorHarness.Event(w.Start.AddMinutes(i), "page_view", user: $"u{i}")), noMarker);
        await harness.Function(options, new TestClock(w.End.AddMinutes(1))).RunAsync(CancellationToken.None);
        var first = Assert.Single(await harness.ReceivedAsync());

        // Retried records: received in the window, stored after it was summarized.
        await harness.StoreAsync(
            [AggregatorHarness.Event(w.Start.AddMinutes(10), "signup", user: "late"), AggregatorHarness.Event(w.End.AddTicks(-1), "page_view", user: "late")],
            noMarker);
        var revisedRun = await harness.Function(options, new TestClock(w.End.AddMinutes(20))).RunAsync(CancellationToken.None);
        var againRun = await harness.Function(options, new TestClock(w.End.AddMinutes(25))).RunAsync(CancellationToken.None);
        var revised = Assert.Single(await harness.ReceivedAsync());
        // Archived after the last run within the look-back and before it closed: the first run after it counts it.
        await harness.StoreAsync([AggregatorHarness.Event(w.Start.AddMinutes(30), "signup", user: "just-in-time")], noMarker);
        var closing = await harness.Function(options, new TestClock(closes + TimeSpan.FromMinutes(14))).RunAsync(CancellationToken.None);
        await harness.StoreAsync([AggregatorHarness.Event(w.Start.AddMinutes(31), "signup", user: "unannounced")], noMarker);
        var after = await harness.Function(options, new TestClock(closes + TimeSpan.FromMinutes(29))).RunAsync(CancellationToken.None);

        Assert.Equal(3, JsonNode.Parse(first["Message"]!.GetValue<string>())!["totalEvents"]!.GetValue<long>());
        Assert.Equal([w.Start], revisedRun.Published);
        Assert.Empty(againRun.Published);
        var summary = JsonNode.Parse(revised["Message"]!.GetValue<string>())!;
        Assert.Equal(5, summary["totalEvents"]!.GetValue<long>());
        Assert.Equal(1, summary["revision"]!.GetValue<int>());
        Assert.Equal(1, summary["byEventType"]!["signup"]!.GetValue<long>());
        Assert.EndsWith("(revision 1)", revised["Subject"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("1", revised["MessageAttributes"]!["revision"]!["Value"]!.GetValue<string>());
        Assert.Contains(w.Start, closing.Published); // with the next window, now complete
        var last = Assert.Single((await harness.ReceivedAsync()).Select(e => JsonNode.Parse(e["Message"]!.GetValue<string>())!),
            s => s["windowStart"]!.GetValue<DateTimeOffset>() == w.Start);
        Assert.Equal(6, last["totalEvents"]!.GetValue<long>());
        Assert.Equal(2, last["revision"]!.GetValue<int>());
        // Closed: an archive write the Processor did not announce is no longer looked for (it announces every late one).
        Assert.DoesNotContain(w.Start, after.Published);
    }

    [Fact]
    public async Task A_record_redriven_from_the_dlq_long_after_its_window_closed_revises_that_window_through_its_late_marker()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var w = PastWindow();
        var options = harness.Options(Hour) with { Lookback = TimeSpan.FromMinutes(60) };
        await harness.StoreAsync([AggregatorHarness.Event(w.Start.AddMinutes(1), "page_view", user: "a")]);
        var clock = new TestClock(w.End.AddMinutes(1));
        await harness.Function(options, clock).RunAsync(CancellationToken.None);
        clock.Now = w.End + options.Settle + options.Lookback + TimeSpan.FromMinutes(1);
        await harness.Function(options, clock).RunAsync(CancellationToken.None); // counts it a last time: closed
        clock.Now += TimeSpan.FromMinutes(15);
        await harness.Function(options, clock).RunAsync(CancellationToken.None);
        Assert.Single(await harness.ReceivedAsync(), e => JsonNode.Parse(e["Message"]!.GetValue<string>())!["windowStart"]!.GetValue<DateTimeOffset>() == w.Start);
        Assert.Empty(await harness.KeysAsync("late/"));

        // Later (a redrive), the real Processor stores and archives a record received in the window.
        await harness.StoreAsync([AggregatorHarness.Event(w.Start.AddMinutes(2), "signup", user: "redriven")]);
        var marker = Assert.Single(await harness.KeysAsync("late/"));
        clock.Now += TimeSpan.FromMinutes(15);
        var run = await harness.Function(options, clock).RunAsync(CancellationToken.None);
        var next = await harness.Function(options, clock).RunAsync(CancellationToken.None);

        Assert.Equal(EventLayout.Hour(w.Start), EventLayout.HourOf(marker));
        Assert.Equal([w.Start], run.Published);
        Assert.Equal(1, run.LateHours);
        var summary = JsonNode.Parse(Assert.Single(await harness.ReceivedAsync())["Message"]!.GetValue<string>())!;
        Assert.Equal(2, summary["totalEvents"]!.GetValue<long>());
        Assert.Equal(1, summary["revision"]!.GetValue<int>());
        Assert.Empty(await harness.KeysAsync("late/")); // done with
        Assert.Empty(next.Published);
    }

    [Fact]
    public async Task A_window_whose_archive_did_not_change_is_not_downloaded_again()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var w = PastWindow();
        await harness.StoreAsync(Enumerable.Range(0, 5).Select(i => AggregatorHarness.Event(w.Start.AddMinutes(i), "a", user: "u")), TimeSpan.FromDays(1));
        var clock = new TestClock(w.End.AddMinutes(1));
        var first = await harness.Function(Hour, clock).RunAsync(CancellationToken.None);
        clock.Now = w.End.AddMinutes(20);
        var within = await harness.Function(Hour, clock).RunAsync(CancellationToken.None);

        Assert.Equal(5, first.EventsRead);
        Assert.Equal(0, within.EventsRead); // listed, same fingerprint: not read
        Assert.Empty(within.Published);
    }

    [Fact]
    public async Task Lines_written_before_fixed_width_times_and_objects_of_several_batches_are_counted_alike()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var w = PastWindow();
        // An object as the Aggregator of the archive-queue version wrote it (times as System.Text.Json writes them), beside the Processor's.
        var legacy = new[] { AggregatorHarness.Event(w.Start, "old", user: "o"), AggregatorHarness.Event(w.End.AddSeconds(-1), "old", user: "p") };
        var lines = string.Join('\n', legacy.Select(e => JsonSerializer.Serialize(e, Pipeline.Events.EventJsonContext.Default.QueuedEvent))) + "\n";
        Assert.Contains("+00:00", lines, StringComparison.Ordinal);
        using (var body = new MemoryStream())
        {
            using (var gzip = new System.IO.Compression.GZipStream(body, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            {
                gzip.Write(System.Text.Encoding.UTF8.GetBytes(lines));
            }
            body.Position = 0;
            await harness.Aws.S3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest
            {
                BucketName = harness.Stack["ArchiveBucket"],
                Key = $"{EventLayout.EventsPrefix(w.Start)}0123456789abcdef0123456789abcdef.jsonl.gz",
                InputStream = body,
            });
        }
        await harness.ArchiveAsync([AggregatorHarness.Event(w.Start.AddMinutes(1), "new", user: "o"), legacy[0]]);

        var run = await harness.Function(Hour, new TestClock(w.End.AddMinutes(1))).RunAsync(CancellationToken.None);

        Assert.Equal([w.Start], run.Published);
        var summary = JsonNode.Parse(Assert.Single(await harness.ReceivedAsync())["Message"]!.GetValue<string>())!;
        Assert.Equal(3, summary["totalEvents"]!.GetValue<long>());
        Assert.Equal(2, summary["byEventType"]!["old"]!.GetValue<long>());
        Assert.Equal(2, summary["uniqueUsers"]!.GetValue<long>());
        Assert.Equal(4, run.EventsRead);
    }

    [Fact]
    public async Task A_window_with_ten_thousand_event_types_lists_the_top_ones_totals_the_rest_and_is_published()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var w = PastWindow();
        var events = Enumerable.Range(0, 10_000).Select(i => AggregatorHarness.Event(w.Start.AddMilliseconds(i), $"type.{i:D5}.{new string('x', 40)}", user: "u"))
            .Concat(Enumerable.Range(0, 10).Select(i => AggregatorHarness.Event(w.Start.AddSeconds(20 + i), "frequent", user: "u")))
            .ToList();
        // What the Processor writes to the archive, without 1,001 invocations.
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

        var options = harness.Options(Hour) with { Lookback = TimeSpan.FromMinutes(90) };
        var run = await harness.Function(options, new TestClock(w.End + Hour + TimeSpan.FromMinutes(1))).RunAsync(CancellationToken.None);

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
    public async Task An_sns_outage_stops_no_counting_every_window_is_stored_and_the_next_run_publishes_each_once()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var window = TimeSpan.FromMinutes(10);
        var first = SummaryWindows.Containing(DateTimeOffset.UtcNow - TimeSpan.FromHours(2), window);
        await harness.StoreAsync(Enumerable.Range(0, 3).Select(i => AggregatorHarness.Event(first.Start + (window * i) + TimeSpan.FromMinutes(1), "a", user: $"u{i}")));
        var clock = new TestClock(first.End.AddMinutes(1));
        await harness.Function(window, clock).RunAsync(CancellationToken.None);
        Assert.Single(await harness.ReceivedAsync());
        var unreachable = SnsClient.Create(LocalAws.Credentials, Amazon.RegionEndpoint.USEast1, new Uri("http://127.0.0.1:9/"));

        clock.Now = first.End + (window * 2) + TimeSpan.FromMinutes(1);
        var down = await harness.Function(window, clock, unreachable).RunAsync(CancellationToken.None);
        var stored = await harness.SummaryItemsAsync();
        Assert.Empty(down.Published);
        Assert.Equal(["published", "stored", "stored"], stored.Select(i => i["status"].S));
        Assert.Empty(await harness.ReceivedAsync(waitSeconds: 0));

        var next = await harness.Function(window, clock).RunAsync(CancellationToken.None);
        var after = await harness.Function(window, clock).RunAsync(CancellationToken.None);

        Assert.Equal([first.End, first.End + window], next.Published);
        Assert.Empty(after.Published);
        Assert.Equal(2, (await harness.ReceivedAsync()).Count);
        var items = (await harness.Aws.DynamoDb.ScanAsync(new ScanRequest { TableName = harness.Stack["SummariesTable"] })).Items.Where(i => i["series"].S == "summaries").ToList();
        Assert.All(items, item => Assert.Equal("published", item["status"].S));
        Assert.All(items, item => Assert.False(string.IsNullOrEmpty(item["messageId"].S)));
    }

    [Fact]
    public async Task A_rejection_written_after_its_window_was_counted_but_within_the_lookback_revises_it()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var w = SummaryWindows.Containing(DateTimeOffset.UtcNow - TimeSpan.FromHours(2), Hour);
        var options = harness.Options(Hour) with { Lookback = TimeSpan.FromMinutes(60) };
        await harness.StoreAsync([AggregatorHarness.Event(w.Start.AddMinutes(1), "page_view", user: "a")], TimeSpan.FromDays(1));
        var clock = new TestClock(w.End.AddMinutes(1));
        await harness.Function(options, clock).RunAsync(CancellationToken.None);
        Assert.Single(await harness.ReceivedAsync());

        // The Processor rejects, after the window was counted, a message sent in its last second (a backlog of a minute).
        var sent = w.End.AddSeconds(-1);
        await harness.Aws.S3.PutObjectAsync(
            new Amazon.S3.Model.PutObjectRequest { BucketName = options.BucketName, Key = EventLayout.RejectedKey(sent, "m-1", null), ContentBody = "{}" });
        clock.Now = w.End.AddMinutes(20); // within the look-back
        var revised = await harness.Function(options, clock).RunAsync(CancellationToken.None);

        Assert.Equal([w.Start], revised.Published);
        var summary = JsonNode.Parse(Assert.Single(await harness.ReceivedAsync())["Message"]!.GetValue<string>())!;
        Assert.Equal(1, summary["rejected"]!.GetValue<long>());
        Assert.Equal(1, summary["revision"]!.GetValue<int>());
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
