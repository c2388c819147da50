using System.Text;
using Pipeline.Plans;

namespace Pipeline.Import.Tests;

/// <summary>CSV files (RFC 4180, a header row): fields by column name, typed and nested properties, bad rows refused by line.</summary>
public sealed class CsvImportTests
{
    // Lines: 1 header; 2 a row; 3-4 one row whose quoted cell holds a comma and a newline; 5 ragged; 6 a bad quote;
    // 7 not UTF-8; 8 not a number; 9 a row with an empty (absent) property and JSON; 10 blank; 11 no eventType.
    public static byte[] File()
    {
        var text = new StringBuilder()
            .Append("eventType,userId,occurredAt,properties.total:number,properties.paid:boolean,properties.address.city,properties.tags:json,eventId\r\n")
            .Append("purchase,u-1,2026-03-01T10:00:00Z,49.90,true,Paris,\"[\"\"a\"\",\"\"b\"\"]\",order-1\r\n")
            .Append("purchase,u-2,2026-03-01T11:00:00Z,5,FALSE,\"Lyon, 2e\nRhône\",,\r\n")
            .Append("purchase,u-3,2026-03-01T12:00:00Z,5,true\r\n")
            .Append("purchase,u-4,2026-03-01T12:00:00Z,5,true,Pa\"ris,,\r\n");
        var bytes = new List<byte>(Encoding.UTF8.GetBytes(text.ToString()));
        bytes.AddRange(Encoding.Latin1.GetBytes("purchase,u-5,2026-03-01T12:00:00Z,5,true,Besançon,,\r\n"));
        bytes.AddRange(Encoding.UTF8.GetBytes(new StringBuilder()
            .Append("purchase,u-6,2026-03-01T12:00:00Z,five,true,Nice,,\r\n")
            .Append("signup,u-7,,,,,\"{\"\"plan\"\":\"\"pro\"\"}\",\r\n")
            .Append("\r\n")
            .Append(",u-8,,,,,,\r\n")
            .ToString()));
        return [.. bytes];
    }

    [Fact]
    public async Task A_csv_file_is_stored_with_typed_and_nested_properties_and_its_bad_rows_refused_by_their_first_line()
    {
        await using var h = await ImportHarness.StartAsync();
        await h.UploadAsync("uploads/orders.csv", File());

        var record = await h.FinishedRecordAsync("uploads/orders.csv");
        Assert.Equal("imported", record["status"].S);
        Assert.Equal("3", record["accepted"].N);
        Assert.Equal("5", record["refused"].N);
        Assert.Equal("1", record["blank"].N);
        var report = await h.ReportAsync(record);
        var refused = report["refusedRows"]!.AsArray()
            .ToDictionary(r => (long)r!["line"]!, r => string.Join(" ", r!["reasons"]!.AsArray().Select(x => (string?)x)));
        Assert.Equal([5L, 6L, 7L, 8L, 11L], refused.Keys.Order());
        Assert.Contains("The row has 5 cell(s); the header has 8.", refused[5], StringComparison.Ordinal);
        Assert.Contains("bad quote", refused[6], StringComparison.Ordinal);
        Assert.Contains("not UTF-8", refused[7], StringComparison.Ordinal);
        Assert.Contains("'properties.total:number' is not a number: 'five'", refused[8], StringComparison.Ordinal);
        Assert.Contains("'eventType' is required.", refused[11], StringComparison.Ordinal);

        var events = (await h.StoredEventsAsync(3)).ToDictionary(e => e["userId"].S);
        var first = events["u-1"];
        Assert.Equal("order-1", first["eventId"].S);
        Assert.Equal("2", first["importLine"].N);
        Assert.Equal("49.90", first["properties"].M["total"].N);
        Assert.True(first["properties"].M["paid"].BOOL);
        Assert.Equal("Paris", first["properties"].M["address"].M["city"].S);
        Assert.Equal(["a", "b"], first["properties"].M["tags"].L.Select(t => t.S));
        var quoted = events["u-2"];
        Assert.Equal("3", quoted["importLine"].N); // the row's first line
        Assert.Equal("Lyon, 2e\nRhône", quoted["properties"].M["address"].M["city"].S);
        Assert.False(quoted["properties"].M["paid"].BOOL);
        Assert.False(quoted["properties"].M.ContainsKey("tags")); // an empty cell is no value
        Assert.StartsWith("import:", quoted["eventId"].S, StringComparison.Ordinal);
        Assert.Equal("pro", events["u-7"]["properties"].M["tags"].M["plan"].S);
        Assert.Equal("signup", events["u-7"]["eventType"].S);
    }

    [Fact]
    public async Task A_header_naming_an_unknown_column_makes_the_file_unreadable()
    {
        await using var h = await ImportHarness.StartAsync(processor: false);
        await h.UploadAsync("uploads/typo.csv.gz", ImportHarness.Gzip("eventType,usrId\npage_view,u-1\n"));
        var record = await h.FinishedRecordAsync("uploads/typo.csv.gz");
        Assert.Equal("unreadable", record["status"].S);
        Assert.Contains("column 'usrId' is neither one of the event's fields", record["error"].S, StringComparison.Ordinal);
        Assert.Empty(await h.QueuedEventsAsync());
    }

    [Fact]
    public async Task A_blocking_plan_refuses_rows_of_each_format_with_their_violations_and_keeps_flagged_ones_flagged()
    {
        await using var h = await ImportHarness.StartAsync();
        await new TrackingPlanStore(h.Aws.DynamoDb, h.Stack["TrackingPlansTable"]).SetAsync("""
            {"mode": "flag", "unplanned": "allow", "events": {
              "purchase": {"mode": "block", "properties": {"type": "object", "required": ["total"], "properties": {"total": {"type": "number", "minimum": 1}}}},
              "signup": {"properties": {"type": "object", "required": ["plan"]}},
              "Order Completed": {"mode": "block", "properties": {"type": "object", "required": ["coupon"]}}}}
            """, CancellationToken.None);
        var (_, key) = await new Pipeline.ApiKeys.ApiKeyRegistry(h.Aws.DynamoDb, h.Stack["ApiKeysTable"]).CreateAsync("s", CancellationToken.None);
        await h.UploadAsync("uploads/plan.csv", "eventType,userId,properties.total:number\npurchase,u-1,5\npurchase,u-2,0\nsignup,u-3,\n");
        await h.UploadAsync($"uploads/segment/{key.KeyId}/plan.json.gz", ImportHarness.Gzip(SegmentImportTests.Fixture));
        await h.UploadAsync("uploads/plan.jsonl", ImportHarness.Lines([new { eventType = "purchase", userId = "u-9" }]));

        var csv = await h.FinishedRecordAsync("uploads/plan.csv");
        var segment = await h.FinishedRecordAsync($"uploads/segment/{key.KeyId}/plan.json.gz");
        var jsonl = await h.FinishedRecordAsync("uploads/plan.jsonl");
        Assert.Equal(("2", "1"), (csv["accepted"].N, csv["refused"].N));
        Assert.Equal(("5", "1"), (segment["accepted"].N, segment["refused"].N));
        Assert.Equal(("0", "1"), (jsonl["accepted"].N, jsonl["refused"].N));
        var csvRefused = Assert.Single((await h.ReportAsync(csv))["refusedRows"]!.AsArray());
        Assert.Equal(3, (long)csvRefused!["line"]!);
        Assert.Contains("properties.total", csvRefused["reasons"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("(tracking plan version 1)", csvRefused["reasons"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        var segmentRefused = Assert.Single((await h.ReportAsync(segment))["refusedRows"]!.AsArray());
        Assert.Equal(1, (long)segmentRefused!["line"]!);
        Assert.Contains("coupon", segmentRefused["reasons"]!.ToJsonString(), StringComparison.Ordinal);

        var events = await h.StoredEventsAsync(7);
        Assert.Equal(7, events.Count);
        var signup = Assert.Single(events, e => e["eventType"].S == "signup");
        Assert.Equal("flagged", signup["plan"].M["status"].S);
        Assert.Equal("passed", Assert.Single(events, e => e["eventType"].S == "purchase")["plan"].M["status"].S);
    }
}
