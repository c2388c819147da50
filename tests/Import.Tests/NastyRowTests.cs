using System.Text;
using Pipeline.Intake;
using Pipeline.Plans;

namespace Pipeline.Import.Tests;

/// <summary>No row, however malformed, throws out of its check: one bad row would otherwise fail the whole invocation.</summary>
public sealed class NastyRowTests
{
    private static readonly ImportContext Import = new(DateTimeOffset.UtcNow, "import-test", TimeSpan.FromDays(1825), TimeProvider.System);

    public static TheoryData<byte[]> Lines()
    {
        var data = new TheoryData<byte[]>();
        string[] texts =
        [
            """{"eventType":"a","eventType":"b","userId":"u"}""",
            """{"type":"track","type":"page","event":"x","userId":"u","messageId":"m"}""",
            """{"type":"track","event":"x","userId":"u","foo":1,"foo":2}""",
            """{"eventType":"a","userId":"u","properties":{"x":1e400}}""",
            """{"type":"track","event":"x","userId":"u","properties":{"x":1e400}}""",
            """{"eventType":"a","userId":"u","occurredAt":"2026-01-01T00:00:00+14:59"}""",
            """{"eventType":"a","userId":"u","occurredAt":"0001-01-01T00:00:00+01:00"}""",
            """{"eventType":"a","userId":"u","occurredAt":"9999-12-31T23:59:59-01:00"}""",
            """{"type":"track","event":"x","userId":"u","timestamp":"0001-01-01T00:00:00+01:00"}""",
            """{"type":"track","event":"x","userId":"u","timestamp":"9999-12-31T23:59:59-01:00"}""",
            """{"type":"track","event":"x","userId":"u","receivedAt":"0001-01-01T00:00:00+01:00"}""",
            """{"type":"track","event":"x","userId":"u","messageId":""}""",
            """{"type":"track","event":"x","userId":"u","messageId":null,"context":[1]}""",
            """{"type":"track","event":"x","userId":"u","":1}""",
            "{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\",\"\\ud800\":1}",
            "{\"eventType\":\"a\",\"userId\":\"\\ud800\"}",
            "{\"type\":\"track\",\"event\":\"x\",\"userId\":\"\\ud800\"}",
            "{\"eventType\":\"a\",\"userId\":\"u\",\"properties\":{\"\\ud800\":1}}",
            "{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\",\"properties\":{\"\\ud800\":1}}",
            new string('[', 10_000),
            "{" + string.Concat(Enumerable.Repeat("\"a\":{", 200)) + "}",
        ];
        foreach (var t in texts)
        {
            data.Add(Encoding.UTF8.GetBytes(t));
        }
        data.Add([(byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}']);
        data.Add([.. "{\"eventType\":\"a\",\"userId\":\""u8.ToArray(), 0xFF, 0xFE, .. "\"}"u8.ToArray()]);
        data.Add([.. "{\"type\":\"track\",\"event\":\"x\",\"userId\":\""u8.ToArray(), 0xFF, 0xFE, .. "\"}"u8.ToArray()]);
        return data;
    }

    [Theory]
    [MemberData(nameof(Lines))]
    public void A_malformed_line_is_refused_or_accepted_never_thrown(byte[] line)
    {
        IRowParser[] parsers = [new EventRowParser(Import), new SegmentRowParser(Import, "hash")];
        foreach (var parser in parsers)
        {
            var outcome = new RowChecker(parser, PlanState.None, "s3://b/uploads/f").Check(new Pipeline.Intake.Record(line, 1, 1, line.Length, null), []);
            Assert.True(outcome.Kind is RowKind.Refused or RowKind.Accepted or RowKind.Duplicate or RowKind.Blank);
            if (outcome.Event is { } e)
            {
                _ = System.Text.Json.JsonSerializer.Serialize(e, Pipeline.Events.EventJsonContext.Default.QueuedEvent);
            }
        }
    }

    [Theory]
    [InlineData("a,u,1e400,")]
    [InlineData("a,u,,\"{\"\"\\ud800\"\":1}\"")]
    [InlineData("a,u,,\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\"")]
    [InlineData("a,u,,\"[\"\"\\ud800\"\"]\"")]
    [InlineData("a,u,,\"{\"\"a\"\":{\"\"\\udc00x\"\":[1]}}\"")]
    [InlineData(",,,")]
    [InlineData(",,,,,,,,,,")]
    [InlineData("\"\",\"\",\"\",\"\"")]
    [InlineData("a,\"u\"\"\",1,null")]
    [InlineData("a,u,-0,{}")]
    public void A_malformed_csv_row_is_refused_or_accepted_never_thrown(string row)
    {
        var (parser, error) = CsvRowParser.FromHeader("eventType,userId,properties.n:number,properties.j:json"u8, Import);
        Assert.Null(error);
        var bytes = Encoding.UTF8.GetBytes(row);
        var outcome = new RowChecker(parser!, PlanState.None, "s3://b/uploads/f.csv").Check(new Pipeline.Intake.Record(bytes, 2, 2, bytes.Length, null), []);
        if (row.Contains("\\ud", StringComparison.Ordinal))
        {
            Assert.Equal(RowKind.Refused, outcome.Kind);
        }
        if (outcome.Event is { } e)
        {
            _ = System.Text.Json.JsonSerializer.Serialize(e, Pipeline.Events.EventJsonContext.Default.QueuedEvent);
        }
    }
}
