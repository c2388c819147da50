using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.ApiKeys;
using Pipeline.Cli;
using Pipeline.Local.Emulators;
using Pipeline.Tests;

namespace Pipeline.Import.Tests;

/// <summary>
/// Messages sent live through Segment's and RudderStack's own Node libraries (tests/Browser/segment-clients.mjs), then
/// imported from an archive of the same messages under the same write key's id, are stored once; and a dry run of a file
/// reports what its import then does.
/// </summary>
public sealed class LiveThenImportTests
{
    private static readonly string[] Calls = ["track", "identify", "page", "screen", "group", "alias"];

    [Fact]
    public async Task Messages_sent_through_analytics_node_and_then_imported_from_their_archive_are_stored_once()
    {
        await using var h = await ImportHarness.StartAsync();
        var (key, record) = await new ApiKeyRegistry(h.Aws.DynamoDb, h.Stack["ApiKeysTable"]).CreateAsync("node", CancellationToken.None);
        var url = $"http://127.0.0.1:{LocalEmulators.FreePort()}";
        await using var api = await InProcess.StartApiAsync(h.Aws.Endpoints, h.Stack, url, CancellationToken.None);
        var run = Guid.NewGuid().ToString("N")[..8];
        var summary = JsonNode.Parse(await NodeScripts.RunAsync("segment-clients.mjs", TimeSpan.FromMinutes(2), url, key, run))!;
        Assert.Empty(summary["segment"]!["errors"]!.AsArray());
        var live = await h.StoredEventsAsync(12);
        Assert.Equal(12, live.Count);

        // The archive of the same calls, as Segment's S3 destination would have written them (its own fields and times).
        var archive = string.Concat(live.Select(i => JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["type"] = i["type"].S,
            ["messageId"] = i["messageId"].S,
            ["userId"] = i["userId"].S,
            ["event"] = i["type"].S == "track" ? i["eventType"].S : null,
            ["groupId"] = i.TryGetValue("groupId", out var g) ? g.S : null,
            ["previousId"] = i.TryGetValue("previousId", out var p) ? p.S : null,
            ["timestamp"] = i["occurredAt"].S,
            ["receivedAt"] = i["receivedAt"].S,
        }.Where(f => f.Value is not null).ToDictionary()) + "\n"));
        var name = $"uploads/segment/{record.KeyId}/{run}.json.gz";
        await h.UploadAsync(name, ImportHarness.Gzip(archive));

        var imported = await h.FinishedRecordAsync(name);
        Assert.Equal("12", imported["accepted"].N); // sent to the queue under /v1's ids...
        bool Deduplicated()
        {
            lock (h.Log)
            {
                return h.Log.Any(l => l.Contains("\"Duplicates\":12", StringComparison.Ordinal)); // the Processor's metric line
            }
        }
        Assert.True(await Eventually.UntilAsync(() => Task.FromResult(Deduplicated()), TimeSpan.FromSeconds(30)));
        await Eventually.QuietAsync();
        var events = await h.EventsAsync();
        Assert.Equal(12, events.Count); // ...and stored once: the live calls' items, untouched
        Assert.All(events, e => Assert.False(e.ContainsKey("importFile")));
        Assert.Equal(Calls.SelectMany(c => new[] { $"{run}-segment-{c}", $"{run}-rudder-{c}" }).Order(), events.Select(e => e["messageId"].S).Order());
    }

    [Fact]
    public async Task A_dry_run_reports_exactly_what_the_import_then_does_and_sends_nothing()
    {
        await using var h = await ImportHarness.StartAsync(processor: false);
        await new Pipeline.Plans.TrackingPlanStore(h.Aws.DynamoDb, h.Stack["TrackingPlansTable"]).SetAsync("""
            {"mode": "block", "events": {"purchase": {"properties": {"type": "object", "properties": {"total": {"type": "number", "maximum": 10}}}}}}
            """, CancellationToken.None);
        var file = Path.Combine(Path.GetTempPath(), $"dry-{Guid.NewGuid():N}.csv");
        await File.WriteAllBytesAsync(file, CsvImportTests.File());
        string[] target = ["--stack", h.Stack.StackName, "--fauxqs", h.Aws.Endpoints.Fauxqs.ToString(), "--endpoint", h.Aws.Endpoints.DynamoDb.ToString()];
        try
        {
            using var dry = new StringWriter();
            Assert.Equal(1, await CliCommands.RunAsync(["import", file, "--key", "orders.csv", "--dry-run", .. target], dry, CancellationToken.None));
            Assert.Contains("Nothing was sent.", dry.ToString(), StringComparison.Ordinal);
            Assert.Null(await h.RecordAsync("uploads/orders.csv"));
            Assert.Empty(await h.QueuedEventsAsync());

            using var real = new StringWriter();
            Assert.Equal(1, await CliCommands.RunAsync(["import", file, "--key", "orders.csv", "--timeout", "60", .. target], real, CancellationToken.None));
            // The same counts and the same refused lines and reasons (the total of 49.90 is over the plan's maximum).
            var dryLines = dry.ToString().Split('\n').Select(l => l.TrimEnd()).ToList();
            var realLines = real.ToString().Split('\n').Select(l => l.TrimEnd()).ToList();
            Assert.Contains("; 9 read, 2 accepted, 6 refused, 0 duplicate(s), 1 blank.", dryLines[0], StringComparison.Ordinal);
            Assert.Equal(dryLines[0][dryLines[0].IndexOf("): ", StringComparison.Ordinal)..][3..], realLines[1][(realLines[1].IndexOf(": ", StringComparison.Ordinal) + 2)..]);
            Assert.Equal(dryLines.Where(l => l.StartsWith("  line ", StringComparison.Ordinal)), realLines.Where(l => l.StartsWith("  line ", StringComparison.Ordinal)));
            Assert.Equal(2, (await h.QueuedEventsAsync()).Count);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
