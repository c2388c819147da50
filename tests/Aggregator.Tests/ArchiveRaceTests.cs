using Amazon.S3.Model;
using DuckDB.NET.Data;
using Pipeline.Archive;
using Pipeline.Storage;
using Pipeline.Summaries;
using Pipeline.Tests;

namespace Pipeline.Aggregator.Tests;

/// <summary>
/// The archive written concurrently (D10, D17), each race driven step by step against the real local servers: a
/// compactor stopped at a pause point while the rest of the pipeline goes on, then let go. Nothing archived is lost.
/// </summary>
public sealed class ArchiveRaceTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"race-tests-{Guid.NewGuid():N}");
    private readonly DuckDBConnection _duckDb;

    public ArchiveRaceTests() => _duckDb = DuckDb.Open(Path.Combine(_folder, "duckdb"), DuckDbLimits.ForFunction(1024));

    private static DateTimeOffset PastHour() => EventLayout.Hour(DateTimeOffset.UtcNow - TimeSpan.FromHours(5));

    [Fact]
    public async Task A_stale_compactor_that_lost_its_lease_to_a_newer_one_deletes_nothing_and_every_event_stays_archived()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var hour = PastHour();
        var first = Events(hour, 20);
        await harness.ArchiveAsync(first);
        var staleClock = new TestClock(DateTimeOffset.UtcNow);
        var stalled = new Gate<CompactionStep>(CompactionStep.Downloaded);
        var stale = Compact(Compactor(harness, staleClock, stalled.Pause), hour);
        await stalled.Reached;

        // While it is stopped: late objects land, its lease runs out, and a newer compaction folds everything.
        var late = Events(hour, 5);
        await harness.ArchiveAsync(late);
        var newer = await Compactor(harness, new TestClock(DateTimeOffset.UtcNow + HourLease.Duration + TimeSpan.FromMinutes(1))).CompactAsync(hour, CancellationToken.None);
        Assert.Equal(25, newer!.Events);
        staleClock.Now += HourLease.Duration + TimeSpan.FromMinutes(1);
        stalled.Release();
        var result = await stale;

        // It uploaded a file of its own name (a duplicate of 20 events), then found its lease gone: it deleted nothing.
        Assert.True(result!.LeaseLost);
        Assert.Equal(2, (await harness.KeysAsync(EventLayout.ParquetPrefix(hour))).Count);
        Assert.Equal(first.Concat(late).Select(e => e.EventId).Order(StringComparer.Ordinal), await EventIdsAsync(harness, hour));
        // The hour has no raw object left, but it is recorded as pending: the next compaction visits and folds it.
        var compactor = Compactor(harness, TimeProvider.System);
        Assert.Empty(await harness.KeysAsync(EventLayout.EventsPrefix(hour)));
        Assert.Contains(hour, await compactor.HoursAsync(CancellationToken.None));
        Assert.Equal(25, (await compactor.CompactAsync(hour, CancellationToken.None))!.Events);
        Assert.Single(await harness.KeysAsync(EventLayout.ParquetPrefix(hour)));
        Assert.DoesNotContain(hour, await compactor.HoursAsync(CancellationToken.None));
        Assert.Equal(25, (await EventIdsAsync(harness, hour)).Count);
    }

    [Fact]
    public async Task A_partly_archived_batch_redelivered_during_a_compaction_keeps_the_events_the_compaction_did_not_read()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var hour = PastHour();
        var batch = Events(hour, 3);
        await harness.ArchiveAsync(batch[..2]); // the first delivery stored and archived two of three
        var stalled = new Gate<CompactionStep>(CompactionStep.Downloaded);
        var compaction = Compact(Compactor(harness, TimeProvider.System, stalled.Pause), hour);
        await stalled.Reached;

        await harness.ArchiveAsync(batch); // the redelivery archives all three: a new object, beside the one being folded
        stalled.Release();
        Assert.Equal(2, (await compaction)!.Events);

        Assert.Single(await harness.KeysAsync(EventLayout.EventsPrefix(hour))); // the redelivery's object was not deleted
        Assert.Equal(batch.Select(e => e.EventId).Order(StringComparer.Ordinal), await EventIdsAsync(harness, hour));
    }

    [Fact]
    public async Task A_compaction_stopped_between_its_upload_and_its_deletes_leaves_every_event_once_to_every_reader()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var hour = PastHour();
        var events = Events(hour, 12);
        await harness.ArchiveAsync(events);
        var stalled = new Gate<CompactionStep>(CompactionStep.Uploaded);
        var compaction = Compact(Compactor(harness, TimeProvider.System, stalled.Pause), hour);
        await stalled.Reached;

        // Both forms at once: the new file and the raw object it folded.
        Assert.Single(await harness.KeysAsync(EventLayout.ParquetPrefix(hour)));
        Assert.Single(await harness.KeysAsync(EventLayout.EventsPrefix(hour)));
        Assert.Equal(12, (await EventIdsAsync(harness, hour)).Count);
        stalled.Release();
        Assert.False((await compaction)!.LeaseLost);
        Assert.Empty(await harness.KeysAsync(EventLayout.EventsPrefix(hour)));
        Assert.Equal(events.Select(e => e.EventId).Order(StringComparer.Ordinal), await EventIdsAsync(harness, hour));
    }

    [Fact]
    public async Task A_late_marker_that_lands_during_a_run_is_left_for_the_next_run_which_counts_its_event()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var window = SummaryWindows.Containing(DateTimeOffset.UtcNow - TimeSpan.FromHours(4), TimeSpan.FromHours(1));
        var options = harness.Options(TimeSpan.FromHours(1)) with { Lookback = TimeSpan.FromHours(2) };
        await harness.StoreAsync(Events(window.Start, 4), TimeSpan.FromDays(1));
        var clock = new TestClock(window.End + TimeSpan.FromMinutes(1));
        var summarized = await harness.Function(options, clock).RunAsync(CancellationToken.None);
        Assert.Empty(summarized.Failures);
        Assert.Equal([window.Start], summarized.Published); // 4 events
        clock.Now = DateTimeOffset.UtcNow; // a run that counts the window a last time, as past its look-back
        Assert.Empty((await harness.Function(options, clock).RunAsync(CancellationToken.None)).Failures);
        clock.Now += TimeSpan.FromMinutes(5); // from here, only a marker makes a run count it again

        var marked = new Gate<RunStep>(RunStep.MarkersListed);
        var run = harness.Function(options, clock, runPause: marked.Pause).RunAsync(CancellationToken.None);
        await marked.Reached;
        await harness.StoreAsync(Events(window.Start.AddMinutes(7), 1), processorLookback: TimeSpan.Zero); // a redrive: object and marker
        marked.Release();
        await run;

        var marker = Assert.Single(await harness.KeysAsync(EventLayout.LateRoot)); // not listed by that run, so not deleted by it
        clock.Now += TimeSpan.FromMinutes(5);
        var next = await harness.Function(options, clock).RunAsync(CancellationToken.None);

        Assert.Empty(next.Failures);
        Assert.Equal(1, next.LateHours);
        Assert.Contains(window.Start, next.Published);
        Assert.Equal(5, await TotalEventsAsync(harness, window.Start));
        Assert.DoesNotContain(marker, await harness.KeysAsync(EventLayout.LateRoot));
    }

    [Fact]
    public async Task A_window_whose_revision_failed_is_revised_by_the_next_run_once_the_fault_is_gone()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var window = SummaryWindows.Containing(DateTimeOffset.UtcNow - TimeSpan.FromHours(4), TimeSpan.FromHours(1));
        var options = harness.Options(TimeSpan.FromHours(1)) with { Lookback = TimeSpan.FromHours(2) };
        await harness.StoreAsync(Events(window.Start, 4), TimeSpan.FromDays(1));
        var clock = new TestClock(window.End + TimeSpan.FromMinutes(1));
        Assert.Equal([window.Start], (await harness.Function(options, clock).RunAsync(CancellationToken.None)).Published); // 4 events

        // Within the look-back, one more event, and an object no reader can read: the run's revision of the window fails.
        await harness.StoreAsync(Events(window.Start.AddMinutes(9), 1), TimeSpan.FromDays(1));
        var damaged = $"{EventLayout.EventsPrefix(window.Start)}damaged.jsonl.gz";
        await harness.Aws.S3.PutObjectAsync(new PutObjectRequest { BucketName = harness.Stack["ArchiveBucket"], Key = damaged, ContentBody = "not gzip" });
        clock.Now = window.End + options.Settle + options.Lookback + TimeSpan.FromMinutes(1); // its last revision, which fails
        var failed = await harness.Function(options, clock).RunAsync(CancellationToken.None);
        Assert.Contains(failed.Failures, f => f.StartsWith($"revise {window.Start:u}", StringComparison.Ordinal));

        // The fault is gone; the window is past the look-back of that failed run's start, but the failed run was not
        // recorded as complete, so the next run revises it.
        await harness.Aws.S3.DeleteObjectAsync(harness.Stack["ArchiveBucket"], damaged);
        clock.Now += TimeSpan.FromMinutes(5);
        var next = await harness.Function(options, clock).RunAsync(CancellationToken.None);

        Assert.Empty(next.Failures);
        Assert.Contains(window.Start, next.Published);
        Assert.Equal(5, await TotalEventsAsync(harness, window.Start));
    }

    [Fact]
    public async Task An_hour_whose_compaction_fails_is_reported_and_the_next_hour_is_compacted_in_the_same_run()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var broken = EventLayout.Hour(DateTimeOffset.UtcNow - TimeSpan.FromHours(6));
        var healthy = broken.AddHours(1);
        var options = harness.Options(TimeSpan.FromHours(1)) with { Lookback = TimeSpan.FromMinutes(30) };
        await harness.ArchiveAsync(Events(broken, 3));
        await harness.ArchiveAsync(Events(healthy, 3));
        await harness.Aws.S3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = harness.Stack["ArchiveBucket"],
            Key = $"{EventLayout.EventsPrefix(broken)}damaged.jsonl.gz",
            ContentBody = "not gzip", // an object no reader can read
        });

        var run = await harness.Function(options, new TestClock(DateTimeOffset.UtcNow)).RunAsync(CancellationToken.None);

        Assert.Equal(1, run.CompactedHours);
        Assert.Contains(run.Failures, f => f.StartsWith($"compact {EventLayout.Partition(broken)}", StringComparison.Ordinal));
        Assert.Single(await harness.KeysAsync(EventLayout.ParquetPrefix(healthy)));
        Assert.Empty(await harness.KeysAsync(EventLayout.ParquetPrefix(broken)));
        Assert.Equal(2, (await harness.KeysAsync(EventLayout.EventsPrefix(broken))).Count); // left as it was
        var recorded = await new SummaryStore(harness.Aws.DynamoDb, harness.Stack["SummariesTable"], TimeProvider.System).LastRunAsync(CancellationToken.None);
        Assert.Equal(run.Failures, recorded!.Value.Failures); // what status shows
    }

    private static List<Pipeline.Events.QueuedEvent> Events(DateTimeOffset at, int count) =>
        [.. Enumerable.Range(0, count).Select(i => AggregatorHarness.Event(at.AddMinutes(i % 50).AddSeconds(i), "page_view", user: $"u{i}"))];

    private HourCompactor Compactor(AggregatorHarness harness, TimeProvider clock, Func<CompactionStep, CancellationToken, Task>? pause = null) =>
        new(harness.Aws.S3, harness.Stack["ArchiveBucket"], _duckDb, new HourLease(harness.Aws.DynamoDb, harness.Stack["SummariesTable"], clock),
            Path.Combine(_folder, Guid.NewGuid().ToString("N")), chunkRows: 5, clock: clock, pause: pause);

    // On a thread of its own: the test goes on while the compaction is stopped at its gate.
    private static Task<Compaction?> Compact(HourCompactor compactor, DateTimeOffset hour) => Task.Run(() => compactor.CompactAsync(hour, CancellationToken.None));

    private static async Task<long> TotalEventsAsync(AggregatorHarness harness, DateTimeOffset windowStart) =>
        (await new SummaryStore(harness.Aws.DynamoDb, harness.Stack["SummariesTable"], TimeProvider.System).GetAsync(windowStart, CancellationToken.None))!
            .Summary.TotalEvents;

    private Task<List<string>> EventIdsAsync(AggregatorHarness harness, DateTimeOffset hour) => harness.EventIdsAsync(hour, _folder);

    public void Dispose()
    {
        _duckDb.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}

/// <summary>A pause point a test holds: the first time the code reaches <paramref name="at"/>, it waits until released.</summary>
public sealed class Gate<TStep>(TStep at)
{
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _passed;

    /// <summary>Completes when the code reaches the step (within a minute, or the test fails).</summary>
    public Task Reached => _reached.Task.WaitAsync(TimeSpan.FromMinutes(1));

    /// <summary>The pause function to give the code.</summary>
    public async Task Pause(TStep step, CancellationToken cancellationToken)
    {
        if (EqualityComparer<TStep>.Default.Equals(step, at) && Interlocked.Exchange(ref _passed, 1) == 0)
        {
            _reached.TrySetResult();
            await _released.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Lets the code go on.</summary>
    public void Release() => _released.TrySetResult();
}
