using DuckDB.NET.Data;
using Pipeline.Archive;
using Pipeline.Events;
using Pipeline.Local;
using Pipeline.Storage;
using Pipeline.Summaries;

namespace Pipeline.Aggregator.Tests;

/// <summary>
/// One reading rule for every schema version of the archive (docs/query.md): a column a file lacks reads as NULL,
/// whatever the other files of its hour hold. An hour compacted before the plan column existed (a checked-in fixture,
/// tests/testdata/archive), alone and then beside today's raw objects, is counted, queried, restored line by line (replay
/// and plan check read that way) and compacted again.
/// </summary>
public sealed class SchemaVersionTests : IDisposable
{
    private static readonly DateTimeOffset Hour = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly string Fixture = Path.Combine(RepositoryPaths.Discover().Root, "tests", "testdata", "archive", "parquet-before-plans.parquet");
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"schema-tests-{Guid.NewGuid():N}");
    private readonly DuckDBConnection _duckDb;

    public SchemaVersionTests() => _duckDb = DuckDb.Open(Path.Combine(_folder, "duckdb"), DuckDbLimits.ForFunction(1024));

    [Fact]
    public async Task An_hour_compacted_before_the_plan_column_is_read_by_every_reader_alone_and_beside_todays_files()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var bucket = harness.Stack["ArchiveBucket"];
        var oldKey = $"{EventLayout.ParquetPrefix(Hour)}events.parquet"; // the name compaction used then
        await harness.Aws.S3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = bucket, Key = oldKey, FilePath = Fixture });

        // Alone: no file of the hour has the column.
        Assert.Equal((3L, 0L), await CountAsync(harness));
        Assert.Equal(3L, await QueryAsync(harness, "SELECT count(*) FROM events WHERE plan IS NULL"));
        Assert.Equal(["fixture-v3-1", "fixture-v3-2", "fixture-v3-3"], await EventIdsAsync(harness));

        // Beside today's raw objects, one of them flagged by a plan.
        await harness.ArchiveAsync(
        [
            AggregatorHarness.Event(Hour.AddMinutes(40), "page_view", user: "u-9"),
            AggregatorHarness.Event(Hour.AddMinutes(41), "signup", user: "u-9") with { Plan = new PlanCheck { Version = 1, Status = PlanCheck.Flagged, ViolationCount = 1 } },
        ]);
        Assert.Equal((5L, 1L), await CountAsync(harness));
        Assert.Equal(1L, await QueryAsync(harness, "SELECT count(*) FROM events WHERE plan IS NOT NULL"));

        // Compacted again: one file of today's schema, every event once, the old rows' plan NULL.
        var compactor = new HourCompactor(harness.Aws.S3, bucket, _duckDb, new HourLease(harness.Aws.DynamoDb, harness.Stack["SummariesTable"], TimeProvider.System),
            Path.Combine(_folder, "compact"));
        Assert.Equal(5, (await compactor.CompactAsync(Hour, CancellationToken.None))!.Events);
        Assert.Equal((5L, 1L), await CountAsync(harness));
        Assert.Equal(4L, await QueryAsync(harness, "SELECT count(*) FROM events WHERE plan IS NULL"));
        var compacted = Assert.Single(await harness.KeysAsync(EventLayout.ParquetPrefix(Hour)));
        Assert.Equal(5, (await EventIdsAsync(harness)).Count);
    }

    // What replay and plan check read of the hour, each event once.
    private static async Task<List<string>> EventIdsAsync(AggregatorHarness harness) =>
        await HourEvents.ReadAsync(harness.Aws.S3, harness.Stack["ArchiveBucket"], Hour, after: null, CancellationToken.None).Select(e => e.EventId).ToListAsync();

    // The window counter's total and its flagged events, over the hour.
    private async Task<(long Total, long Flagged)> CountAsync(AggregatorHarness harness)
    {
        using var downloads = new ArchiveDownloads(harness.Aws.S3, harness.Stack["ArchiveBucket"], Path.Combine(_folder, $"count-{Guid.NewGuid():N}"));
        var files = await downloads.DownloadAsync(Hour, CancellationToken.None);
        var counts = await new WindowCounter(_duckDb).CountAsync(files, new SummaryWindow(Hour, Hour.AddHours(1)), CancellationToken.None);
        return (counts.Total, counts.FlaggedByEventType.Values.Sum());
    }

    // One number through the events view, as the query command defines it.
    private async Task<long> QueryAsync(AggregatorHarness harness, string sql)
    {
        using var downloads = new ArchiveDownloads(harness.Aws.S3, harness.Stack["ArchiveBucket"], Path.Combine(_folder, $"query-{Guid.NewGuid():N}"));
        DuckDb.DefineViews(_duckDb, await downloads.DownloadAsync(Hour, CancellationToken.None));
        using var command = _duckDb.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        _duckDb.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
