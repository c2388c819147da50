using System.Text;
using Pipeline.Intake;
using Pipeline.Plans;

namespace Pipeline.Import.Tests;

/// <summary>A row's check and identity, as pure logic: what the import stores rests on them.</summary>
public sealed class RowCheckerTests
{
    private readonly RowChecker _checker = new(
        new EventRowParser(new ImportContext(DateTimeOffset.UtcNow, "import-test", TimeSpan.FromDays(1825), TimeProvider.System)), PlanState.None, "s3://b/uploads/f.jsonl");

    private RowOutcome Check(string line, Dictionary<RowKey, int>? seen = null) =>
        _checker.Check(new Pipeline.Intake.Record(Encoding.UTF8.GetBytes(line), 1, 1, line.Length, null), seen ?? []);

    [Fact]
    public void A_derived_id_is_the_rows_sha256_so_rows_imported_by_an_earlier_release_are_not_stored_again()
    {
        // sha256sum of the line's bytes: the ids are a contract with every row already stored, whatever computes them.
        var seen = new Dictionary<RowKey, int>();
        const string line = """{"eventType":"page_view","userId":"u-1"}""";
        Assert.Equal("import:9cf7318edcaf59bdf2d760b7de5586bb4d3f31c8:1", Check(line, seen).Event!.EventId);
        Assert.Equal("import:9cf7318edcaf59bdf2d760b7de5586bb4d3f31c8:2", Check(line, seen).Event!.EventId);
        Assert.StartsWith("import:", Check("""{"eventType":"page_view","userId":"u-2"}""", seen).Event!.EventId, StringComparison.Ordinal);
        Assert.Equal(2, seen.Count); // two distinct rows, the first seen twice

        // A row with its own id keeps it, and its id seen again in the file is a duplicate, whatever its bytes.
        Assert.Equal("e-1", Check("""{"eventType":"signup","userId":"u-9","eventId":"e-1"}""", seen).Event!.EventId);
        Assert.Equal(RowKind.Duplicate, Check("""{"eventType":"page_view","userId":"u-3","eventId":"e-1"}""", seen).Kind);
    }

    [Fact]
    public void The_saved_occurrences_are_each_rows_first_16_hash_bytes_and_its_count_so_a_continuation_saved_by_an_earlier_release_still_reads()
    {
        // The first 16 bytes of sha256sum of the line, then the count, little-endian: the layout every release has saved.
        var seen = new Dictionary<RowKey, int>();
        const string line = """{"eventType":"page_view","userId":"u-1"}""";
        Check(line, seen);
        Check(line, seen);
        var saved = Pipeline.Importer.OccurrenceState.Write(seen);
        Assert.Equal("9cf7318edcaf59bdf2d760b7de5586bb02000000", Convert.ToHexStringLower(saved));
        Assert.Equal(seen, Pipeline.Importer.OccurrenceState.Read(saved));
        Assert.Equal(RowKey.Of(Convert.FromHexString("9cf7318edcaf59bdf2d760b7de5586bb")), Assert.Single(seen).Key);

        // A state in that layout, read by the next invocation: the same row's next occurrence is its third.
        var resumed = Pipeline.Importer.OccurrenceState.Read(Convert.FromHexString("9cf7318edcaf59bdf2d760b7de5586bb02000000"));
        Assert.Equal("import:9cf7318edcaf59bdf2d760b7de5586bb4d3f31c8:3", Check(line, resumed).Event!.EventId);
    }

    [Theory]
    [InlineData("""{"eventType":"page_view","userId":"u-1"} trailing""", "not a valid event")]
    [InlineData("""{"eventType":"page_view",""", "not JSON")]
    [InlineData("""[1, 2]""", "a JSON Array, not an event object")]
    [InlineData("""42""", "a JSON Number, not an event object")]
    [InlineData("""null""", "JSON null")]
    [InlineData("""{"eventType":5,"userId":"u-1"}""", "not a valid event")]
    [InlineData("""{"eventType":"page view","userId":"u-1"}""", "'eventType' must start with a letter")]
    public void A_refused_line_says_why(string line, string reason)
    {
        var outcome = Check(line);
        Assert.Equal(RowKind.Refused, outcome.Kind);
        Assert.Contains(outcome.Reasons, p => p.Contains(reason, StringComparison.Ordinal));
    }

    [Fact]
    public void An_accepted_line_keeps_its_fields_file_and_line()
    {
        var outcome = Check("""{"eventType":"purchase","userId":"u-1","eventId":"e-7","properties":{"amount":12.5}}""");
        Assert.Equal(RowKind.Accepted, outcome.Kind);
        var queued = outcome.Event!;
        Assert.Equal(("purchase", "u-1", "e-7", "s3://b/uploads/f.jsonl", 1L), (queued.EventType, queued.UserId, queued.EventId, queued.ImportFile, queued.ImportLine));
        Assert.Equal(12.5, queued.Properties!.Value.GetProperty("amount").GetDouble());
    }
}
