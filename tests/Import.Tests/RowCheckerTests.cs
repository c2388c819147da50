using System.Text;
using Pipeline.Importer;

namespace Pipeline.Import.Tests;

/// <summary>A row's check and identity, as pure logic: what the import stores rests on them.</summary>
public sealed class RowCheckerTests
{
    private readonly RowChecker _checker = new(TimeSpan.FromDays(1825), TimeProvider.System);

    [Fact]
    public void A_derived_id_is_the_rows_sha256_so_rows_imported_by_an_earlier_release_are_not_stored_again()
    {
        // sha256sum of the line's bytes: the ids are a contract with every row already stored, whatever computes them.
        var line = """{"eventType":"page_view","userId":"u-1"}"""u8;
        var identity = RowChecker.Identify(line, null);
        Assert.Equal("import:9cf7318edcaf59bdf2d760b7de5586bb4d3f31c8:2", RowChecker.DerivedId(identity, 2));
        Assert.Equal(RowChecker.Identify(line, null).Key, identity.Key);
        Assert.NotEqual(RowChecker.Identify("""{"eventType":"page_view","userId":"u-2"}"""u8, null).Key, identity.Key);

        // A row with its own id is counted by its id, whatever its bytes, and has no derived id.
        var own = RowChecker.Identify(line, "e-1");
        Assert.Equal(own.Key, RowChecker.Identify("""{"eventType":"signup","userId":"u-9","eventId":"e-1"}"""u8, "e-1").Key);
        Assert.Null(own.Stem);
        Assert.Throws<ArgumentException>(() => RowChecker.DerivedId(own, 1));
    }

    [Theory]
    [InlineData("""{"eventType":"page_view","userId":"u-1"} trailing""", "not JSON")]
    [InlineData("""{"eventType":"page_view",""", "not JSON")]
    [InlineData("""[1, 2]""", "a JSON Array, not an event object")]
    [InlineData("""42""", "a JSON Number, not an event object")]
    [InlineData("""null""", "JSON null")]
    [InlineData("""{"eventType":5,"userId":"u-1"}""", "not a valid event")]
    [InlineData("""{"eventType":"page view","userId":"u-1"}""", "'eventType' must start with a letter")]
    public void A_refused_line_says_why(string line, string reason)
    {
        var (row, problems) = _checker.Check(Encoding.UTF8.GetBytes(line));
        Assert.Null(row);
        Assert.Contains(problems, p => p.Contains(reason, StringComparison.Ordinal));
    }

    [Fact]
    public void An_accepted_line_keeps_its_fields()
    {
        var (row, problems) = _checker.Check("""{"eventType":"purchase","userId":"u-1","eventId":"e-7","properties":{"amount":12.5}}"""u8);
        Assert.Empty(problems);
        Assert.Equal(("purchase", "u-1", "e-7"), (row!.EventType, row.UserId, row.EventId));
        Assert.Equal(12.5, row.Properties!.Value.GetProperty("amount").GetDouble());
    }
}
