using System.Text.Json.Nodes;
using DuckDB.NET.Data;
using Pipeline.Archive;
using Pipeline.Events;
using Pipeline.Local;
using Pipeline.Storage;

namespace Pipeline.Aggregator.Tests;

/// <summary>The Glue tables, the Parquet files, the events view and the queued event's fields are one list: EventColumns.</summary>
public sealed class SchemaTests
{
    private static readonly JsonObject Resources = JsonNode.Parse(File.ReadAllText(RepositoryPaths.Discover().Template))!["Resources"]!.AsObject();

    private static List<(string, string)> Expected(IEnumerable<(string Name, string Type)> columns) =>
        [.. columns.Select(c => (c.Name.ToLowerInvariant(), c.Type.ToLowerInvariant()))];

    private static IEnumerable<(string, string)> Column(string logicalId, string list)
    {
        var input = Resources[logicalId]!["Properties"]!["TableInput"]!;
        var array = list == "PartitionKeys" ? input["PartitionKeys"]! : input["StorageDescriptor"]!["Columns"]!;
        return array.AsArray().Select(c => (c!["Name"]!.GetValue<string>(), c["Type"]!.GetValue<string>()));
    }

    [Fact]
    public void The_glue_tables_and_the_saved_view_are_the_column_list()
    {
        Assert.Equal(Expected(EventColumns.All.Select(c => (c.Name, c.GlueType))), Column("EventsParquetTable", "Columns").ToList());
        Assert.Equal(Expected(EventColumns.RawFields.Select(c => (c.Name, c.GlueType))), Column("EventsRawTable", "Columns").ToList());
        foreach (var table in new[] { "EventsParquetTable", "EventsRawTable" })
        {
            Assert.Equal(Expected(EventColumns.Partitions.Select(p => (p.Name, p.GlueType))), Column(table, "PartitionKeys").ToList());
        }
        Assert.Equal(EventColumns.ParquetTable, Resources["EventsParquetTable"]!["Properties"]!["TableInput"]!["Name"]!.GetValue<string>());
        Assert.Equal(EventColumns.RawTable, Resources["EventsRawTable"]!["Properties"]!["TableInput"]!["Name"]!.GetValue<string>());
        Assert.Equal(EventColumns.ViewSql(), Resources["EventsViewQuery"]!["Properties"]!["QueryString"]!.GetValue<string>());
    }

    [Fact]
    public void Every_field_of_the_queued_event_has_a_column_so_compaction_keeps_it()
    {
        var fields = EventJsonContext.Default.QueuedEvent.Properties.Select(p => p.Name).Order(StringComparer.Ordinal);
        Assert.Equal(fields, EventColumns.RawFields.Select(c => c.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_parquet_file_and_the_events_view_have_the_listed_columns_and_types()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        var folder = Path.Combine(Path.GetTempPath(), $"schema-tests-{Guid.NewGuid():N}");
        try
        {
            using var duckDb = DuckDb.Open(Path.Combine(folder, "duckdb"), DuckDbLimits.ForFunction(1024));
            var hour = EventLayout.Hour(DateTimeOffset.UtcNow.AddHours(-5));
            await harness.ArchiveAsync([AggregatorHarness.Event(hour, "a", user: "u")]);
            await new HourCompactor(harness.Aws.S3, harness.Stack["ArchiveBucket"], duckDb,
                new HourLease(harness.Aws.DynamoDb, harness.Stack["SummariesTable"], TimeProvider.System), folder).CompactAsync(hour, CancellationToken.None);
            await harness.ArchiveAsync([AggregatorHarness.Event(hour, "b", user: "u")]); // raw beside it: both tables have files
            using var downloads = new ArchiveDownloads(harness.Aws.S3, harness.Stack["ArchiveBucket"], Path.Combine(folder, "read"));
            var files = await downloads.DownloadAsync(hour, CancellationToken.None);
            DuckDb.DefineViews(duckDb, files);

            var all = EventColumns.All.Select(c => (c.Name, c.DuckDbType));
            var raw = EventColumns.RawFields.Select(c => (c.Name, c.DuckDbType));
            var partitions = EventColumns.Partitions.Select(p => (p.Name, p.DuckDbType));
            Assert.Equal(Expected(all), Describe(duckDb, $"SELECT * FROM read_parquet({DuckDb.List(files.Parquet)}, hive_partitioning = false)"));
            Assert.Equal(Expected(all.Concat(partitions)), Describe(duckDb, "SELECT * FROM events"));
            Assert.Equal(Expected(raw.Concat(partitions)), Describe(duckDb, "SELECT * FROM events_raw"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static List<(string, string)> Describe(DuckDBConnection duckDb, string query)
    {
        using var command = duckDb.CreateCommand();
        command.CommandText = $"DESCRIBE {query}";
        using var reader = command.ExecuteReader();
        var columns = new List<(string, string)>();
        while (reader.Read())
        {
            columns.Add((reader.GetString(0).ToLowerInvariant(), reader.GetString(1).ToLowerInvariant()));
        }
        return columns;
    }
}
