using System.Text;
using Pipeline.Intake;
using Pipeline.Plans;

namespace Pipeline.Import.Tests;

/// <summary>CSV records and cells as pure logic: framing over lines, line endings, a BOM, carriage returns.</summary>
public sealed class CsvFramingTests
{
    private static readonly ImportContext Import = new(DateTimeOffset.UtcNow, "import-test", TimeSpan.FromDays(1825), TimeProvider.System);

    private static async Task<List<(string Text, long Line, long LastLine, long End, string? Problem)>> Records(byte[] file, long startLine = 0, long startOffset = 0)
    {
        using var stream = new MemoryStream(file[(int)startOffset..]);
        var reader = new RecordReader(new LineReader(stream, 64 * 1024, startLine, startOffset), true, 64 * 1024);
        var records = new List<(string, long, long, long, string?)>();
        while (await reader.ReadAsync(CancellationToken.None) is { } r)
        {
            records.Add((Encoding.UTF8.GetString(r.Bytes.Span), r.Line, r.LastLine, r.End, r.Problem));
        }
        return records;
    }

    [Fact]
    public async Task Crlf_a_bom_quoted_newlines_and_an_empty_last_line_frame_one_record_a_row_and_a_continuation_resumes_between_them()
    {
        var file = Encoding.UTF8.GetBytes("\uFEFFeventType,userId,properties.note\r\npage,u-1,\"a\r\nb\"\r\npage,u-2,x\r\n\r\n");
        var all = await Records(file);
        Assert.Equal(["eventType,userId,properties.note", "page,u-1,\"a\nb\"", "page,u-2,x", ""], all.Select(r => r.Text));
        Assert.Equal([1L, 2L, 4L, 5L], all.Select(r => r.Line));
        Assert.Equal([1L, 3L, 4L, 5L], all.Select(r => r.LastLine));
        Assert.Equal(file.Length, all[^1].End);
        // Resumed at each record's end (a ranged continuation): the same records after it, with the same lines.
        for (var i = 0; i < all.Count; i++)
        {
            var rest = await Records(file, all[i].LastLine, all[i].End);
            Assert.Equal(all.Skip(i + 1), rest);
        }
    }

    [Fact]
    public void A_header_of_classic_mac_line_endings_is_refused_not_read_as_a_header_with_no_rows()
    {
        // A file with CR-only line endings (Excel's "CSV (Macintosh)") is one line to the line reader: read as a header it
        // would hold the first row's names and hide every row after them, an import of nothing reported as imported.
        var (parser, error) = CsvRowParser.FromHeader("eventType,userId\rpage,u-1\rpage,u-2"u8, Import);
        Assert.Null(parser);
        Assert.Contains("carriage return", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_carriage_return_outside_a_quoted_cell_refuses_the_row_instead_of_dropping_what_follows_it()
    {
        var (parser, _) = CsvRowParser.FromHeader("eventType,userId"u8, Import);
        var checker = new RowChecker(parser!, PlanState.None, "s3://b/uploads/f.csv");
        var record = "page,u-1\rsignup,u-2"u8.ToArray();
        var outcome = checker.Check(new Pipeline.Intake.Record(record, 2, 2, 30, null), []);
        Assert.Equal(RowKind.Refused, outcome.Kind);
        Assert.Contains(outcome.Reasons, r => r.Contains("carriage return", StringComparison.Ordinal));

        // Inside a quoted cell a carriage return is text.
        var quoted = checker.Check(new Pipeline.Intake.Record("page,\"u-1\r2\""u8.ToArray(), 3, 3, 40, null), []);
        Assert.Equal(RowKind.Accepted, quoted.Kind);
        Assert.Equal("u-1\r2", quoted.Event!.UserId);
    }
}
