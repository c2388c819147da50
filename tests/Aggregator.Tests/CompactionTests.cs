using System.Text;
using System.Text.Json;
using DuckDB.NET.Data;
using Pipeline.Archive;
using Pipeline.Events;
using Pipeline.Storage;
using Pipeline.Summaries;
using Pipeline.Tests;

namespace Pipeline.Aggregator.Tests;

public sealed class CompactionTests : IDisposable
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"compaction-tests-{Guid.NewGuid():N}");
    private readonly DuckDBConnection _duckDb;

    public CompactionTests() => _duckDb = DuckDb.Open(Path.Combine(_folder, "duckdb"), DuckDbLimits.ForFunction(1024));

    private static SummaryWindow PastWindow() => SummaryWindows.Containing(DateTimeOffset.UtcNow - TimeSpan.FromHours(3), Hour);

    [Fact]
    public async Task An_hour_past_its_look_back_becomes_one_parquet_file_its_counts_unchanged_and_a_late_event_is_folded_in_once()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var w = PastWindow();
        var options = harness.Options(Hour) with { Lookback = TimeSpan.FromMinutes(60) };
        var events = Enumerable.Range(0, 25).Select(i => AggregatorHarness.Event(w.Start.AddMinutes(i), i % 2 == 0 ? "page_view" : "signup", user: $"u{i % 7}") with
        {
            Plan = i % 5 == 0 ? new PlanCheck { Version = 1, Status = PlanCheck.Flagged, ViolationCount = 1 } : null,
        }).ToList();
        await harness.StoreAsync(events, TimeSpan.FromDays(1));
        await harness.StoreAsync(events[..10], TimeSpan.FromDays(1)); // redelivered: the raw archive holds ten twice
        var clock = new TestClock(w.End.AddMinutes(1));
        var counted = await harness.Function(options, clock).RunAsync(CancellationToken.None);
        Assert.Equal(0, counted.CompactedHours); // within the look-back: left raw

        clock.Now = w.End + options.Settle + options.Lookback + TimeSpan.FromMinutes(1);
        var closing = await harness.Function(options, clock).RunAsync(CancellationToken.None);

        Assert.Equal(1, closing.CompactedHours);
        var compacted = Assert.Single(await harness.KeysAsync(EventLayout.ParquetRoot));
        Assert.StartsWith(EventLayout.ParquetPrefix(w.Start) + "events-", compacted, StringComparison.Ordinal);
        Assert.Empty(await harness.KeysAsync(EventLayout.EventsPrefix(w.Start)));
        Assert.Equal(25, await CountAsync(harness, w.Start));

        // A late event (a redrive) lands in the compacted hour: raw again, with a marker.
        await harness.StoreAsync([AggregatorHarness.Event(w.Start.AddMinutes(30), "purchase", user: "late")]);
        Assert.Equal(26, await CountAsync(harness, w.Start)); // read from both forms before the next compaction
        clock.Now += TimeSpan.FromMinutes(15);
        var late = await harness.Function(options, clock).RunAsync(CancellationToken.None);

        Assert.Equal(1, late.CompactedHours);
        Assert.Equal([w.Start], late.Published);
        var revision = Assert.Single(await harness.ReceivedAsync(), e => e["Subject"]!.GetValue<string>().Contains("revision", StringComparison.Ordinal));
        var summary = JsonDocument.Parse(revision["Message"]!.GetValue<string>()).RootElement;
        Assert.Equal(26, summary.GetProperty("totalEvents").GetInt64());
        // Counted from the Parquet file and the late raw object alike: 0, 10, 20 are page views, 5 and 15 signups.
        Assert.Equal("""{"page_view":3,"signup":2}""", summary.GetProperty("planViolations").GetRawText());
        var recompacted = Assert.Single(await harness.KeysAsync(EventLayout.ParquetRoot)); // a new file; the first folded and deleted
        Assert.NotEqual(compacted, recompacted);
        Assert.Empty(await harness.KeysAsync(EventLayout.EventsPrefix(w.Start)));
        Assert.Equal(26, await CountAsync(harness, w.Start));
    }

    [Fact]
    public async Task Compaction_is_lossless_every_line_is_restored_byte_for_byte_from_its_row()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var hour = EventLayout.Hour(DateTimeOffset.UtcNow - TimeSpan.FromHours(5));
        string[] documents =
        [
            """{"big":123456789012345678901234567890123456,"neg":-99999999999999999999999999999999999999,"dec":1234567890123456789.0123456789012345678}""",
            """{"exp":1e2,"exp2":-1.5E-300,"trailing":1.50,"negzero":-0,"zero":0.0}""",
            """{"nul":"a\u0000b","":"","empty":{},"list":[],"esc":"\"\\\/\b\f\n\r\t","uni":"\u00e9\ud83d\ude00 é😀"}""",
            """{"deep":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":[[[[[[1]]]]]]}}}}}}}}}}}""",
        ];
        var events = documents.Select((d, i) => AggregatorHarness.Event(hour.AddMinutes(i).AddTicks(1234567), "hostile\u0000type", user: i == 0 ? "nul\u0000user" : "") with
        {
            SchemaVersion = 2,
            Properties = JsonDocument.Parse(d).RootElement,
            Traits = JsonDocument.Parse(documents[(i + 1) % documents.Length]).RootElement,
            Context = JsonDocument.Parse("""{"ip":"203.0.113.9","page":{"url":"https://example.com/?q=1"}}""").RootElement,
            Integrations = JsonDocument.Parse("""{"All":true}""").RootElement,
            Extra = JsonDocument.Parse("""{"custom":[1,"two",null,false]}""").RootElement,
            Type = "track",
            MessageId = $"m-{i}",
            Name = "",
            Timestamp = "2026-12-01T10:00:00.000+01:00",
            OriginalTimestamp = "not a time, as sent",
            SentAt = "2026-12-01T09:00:00Z",
            SourceIp = "2001:db8::1",
            UserAgent = "agent/1.0 (x)",
            OccurredAt = new DateTimeOffset(1970, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(i),
            Plan = i % 2 == 0 ? null : new PlanCheck
            {
                Version = 7,
                Status = PlanCheck.Flagged,
                ViolationCount = 11,
                Violations = [new("properties.a\u0000b", "type: Value is \"string\" but should be \"number\""), new("properties", "required: é😀")],
            },
        }).ToList();
        await harness.ArchiveAsync(events);
        var lines = events.Select(e => Encoding.UTF8.GetString(ArchiveLine.Serialize(e))).Order(StringComparer.Ordinal).ToList();

        var compaction = await Compactor(harness).CompactAsync(hour, CancellationToken.None);

        Assert.Equal(new Compaction(hour, 1, 4, compaction!.Bytes), compaction);
        Assert.Single(await harness.KeysAsync(EventLayout.ParquetRoot));
        Assert.Empty(await harness.KeysAsync(EventLayout.EventsRoot));
        // As replay and plan check read it: each row restored to the line it was archived as.
        var restored = (await HourEvents.ReadAsync(harness.Aws.S3, harness.Stack["ArchiveBucket"], hour, after: null, CancellationToken.None).ToListAsync())
            .Select(e => Encoding.UTF8.GetString(ArchiveLine.Serialize(e))).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(lines, restored);
    }

    [Fact]
    public async Task A_held_lease_keeps_a_second_compactor_off_the_hour_and_a_crash_before_the_deletes_leaves_events_counted_once()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var hour = EventLayout.Hour(DateTimeOffset.UtcNow - TimeSpan.FromHours(5));
        var events = Enumerable.Range(0, 12).Select(i => AggregatorHarness.Event(hour.AddMinutes(i), "a", user: "u")).ToList();
        await harness.ArchiveAsync(events);
        var lease = new HourLease(harness.Aws.DynamoDb, harness.Stack["SummariesTable"], TimeProvider.System);
        var hold = await lease.TryAcquireAsync(hour, CancellationToken.None);

        Assert.NotNull(hold);
        Assert.Null(await Compactor(harness).CompactAsync(hour, CancellationToken.None));
        Assert.Empty(await harness.KeysAsync(EventLayout.ParquetRoot));
        await lease.ReleaseAsync(hold, CancellationToken.None);

        Assert.NotNull(await Compactor(harness).CompactAsync(hour, CancellationToken.None));
        // As if a compaction had stopped between its upload and its deletes: the same events raw beside the Parquet file.
        await harness.ArchiveAsync(events);
        Assert.Equal(12, await CountAsync(harness, hour));
        Assert.Equal(12, await CountWindowAsync(harness, new SummaryWindow(hour, hour + Hour)));
        var again = await Compactor(harness).CompactAsync(hour, CancellationToken.None);
        Assert.Equal(12, again!.Events);
        await harness.ArchiveAsync(events[..7]); // and again, raw: seven duplicates over two chunks
        Assert.Equal(12, (await Compactor(harness).CompactAsync(hour, CancellationToken.None))!.Events);
        Assert.Equal(12, await CountAsync(harness, hour));
    }

    // Chunks of five lines: the tests' hours span several, so a duplicate is found across chunks.
    private HourCompactor Compactor(AggregatorHarness harness) => new(harness.Aws.S3, harness.Stack["ArchiveBucket"], _duckDb,
        new HourLease(harness.Aws.DynamoDb, harness.Stack["SummariesTable"], TimeProvider.System), _folder, chunkRows: 5);

    // Distinct events of the hour through the events view, as the query command reads them.
    private async Task<long> CountAsync(AggregatorHarness harness, DateTimeOffset hour)
    {
        using var downloads = new ArchiveDownloads(harness.Aws.S3, harness.Stack["ArchiveBucket"], Path.Combine(_folder, $"read-{Guid.NewGuid():N}"));
        DuckDb.DefineViews(_duckDb, await downloads.DownloadAsync(hour, CancellationToken.None));
        using var command = _duckDb.CreateCommand();
        command.CommandText = "SELECT count(*) FROM events";
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<long> CountWindowAsync(AggregatorHarness harness, SummaryWindow window)
    {
        using var downloads = new ArchiveDownloads(harness.Aws.S3, harness.Stack["ArchiveBucket"], Path.Combine(_folder, $"count-{Guid.NewGuid():N}"));
        return (await new WindowCounter(_duckDb).CountAsync(await downloads.DownloadAsync(window.Start, CancellationToken.None), window, CancellationToken.None)).Total;
    }

    private async Task<string> DownloadAsync(AggregatorHarness harness, string key)
    {
        var path = Path.Combine(_folder, Guid.NewGuid().ToString("N"), "events.parquet");
        using var response = await harness.Aws.S3.GetObjectAsync(harness.Stack["ArchiveBucket"], key);
        await response.WriteResponseStreamToFileAsync(path, false, CancellationToken.None);
        return path;
    }

    public void Dispose()
    {
        _duckDb.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
