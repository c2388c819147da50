using System.Diagnostics;
using System.Text.Json.Nodes;
using Pipeline.Tests;

namespace Pipeline.Import.Tests;

/// <summary>
/// A file larger than one invocation can import: by its deadline (a continuation), or because its process was killed
/// (the notification delivered again resumes from the record's checkpoint). The events queue is read directly: every
/// line must be there, and every copy of a line must carry one eventId, so the Processor stores each row once.
/// </summary>
public sealed class ContinuationTests
{
    private const int Rows = 60_000;

    private static string File(int rows = Rows) =>
        ImportHarness.Lines(Enumerable.Range(1, rows).Select(i => (object)new { eventType = "bulk", userId = $"u-{i % 97}", properties = new { i } }));

    private static void AssertEveryLineOnce(List<JsonNode> queued, int rows = Rows)
    {
        var byLine = queued.GroupBy(e => (long)e["importLine"]!).ToDictionary(g => g.Key, g => g.Select(e => (string)e["eventId"]!).Distinct().ToList());
        Assert.Equal(Enumerable.Range(1, rows).Select(i => (long)i), byLine.Keys.Order());
        Assert.All(byLine.Values, ids => Assert.Single(ids));
        Assert.Equal(rows, byLine.Values.Select(ids => ids[0]).Distinct().Count());
    }

    [Fact]
    public async Task An_import_that_reaches_its_deadline_continues_without_gaps_or_duplicates()
    {
        // The deadline budget itself: a 4 s invocation stops a quarter before it and sends a continuation, leaving 1 s to
        // save the rows' state, the checkpoint and the continuation on a loaded machine. The file must outlast 3 s of
        // importing on a fast, idle machine, where the process (not held to a CPU share here) has imported 100,000 rows in
        // 2.25 s: 330,000 leaves a margin of about two and a half.
        const int rows = 330_000;
        await using var h = await ImportHarness.StartAsync(processor: false, timeout: TimeSpan.FromSeconds(4));
        await h.UploadAsync("uploads/big.jsonl", File(rows));

        var record = await h.FinishedRecordAsync("uploads/big.jsonl", TimeSpan.FromSeconds(300));
        Assert.Equal("imported", record["status"].S);
        Assert.Equal(rows.ToString(System.Globalization.CultureInfo.InvariantCulture), record["accepted"].N);
        Assert.True(h.Importer.Reports.Count(r => r.ErrorType is null) > 1, "the file took more than one invocation");
        Assert.DoesNotContain(h.Importer.Reports, r => r.ErrorType is not null);
        Assert.Contains(h.Log, l => l.Contains("continuing at line", StringComparison.Ordinal));
        var queued = await h.QueuedEventsAsync();
        AssertEveryLineOnce(queued, rows);
        Assert.Equal(rows, queued.Count); // a continuation sends nothing twice
    }

    [Fact]
    public async Task An_import_killed_mid_file_finishes_without_gaps_or_duplicates()
    {
        // The notification comes back after the visibility timeout (shortened from the template's 30 minutes).
        await using var h = await ImportHarness.StartAsync(processor: false, visibilitySeconds: 3);
        await h.UploadAsync("uploads/killed.jsonl", File());

        Assert.True(await Eventually.UntilAsync(async () =>
            (await h.RecordAsync("uploads/killed.jsonl")) is { } r && r["status"].S == "importing"
                && long.Parse(r["line"].N, System.Globalization.CultureInfo.InvariantCulture) > 0,
            TimeSpan.FromSeconds(60), () => Task.Delay(5)));
        var busy = h.Importer.BusyProcessIds;
        Assert.NotEmpty(busy);
        foreach (var pid in busy)
        {
            using var process = Process.GetProcessById(pid);
            process.Kill(); // this test's own child process, by its id
        }

        var record = await h.FinishedRecordAsync("uploads/killed.jsonl", TimeSpan.FromSeconds(120));
        Assert.Equal("imported", record["status"].S);
        Assert.Equal(Rows.ToString(System.Globalization.CultureInfo.InvariantCulture), record["accepted"].N);
        Assert.Contains(h.Importer.Reports, r => r.ErrorType is not null);
        AssertEveryLineOnce(await h.QueuedEventsAsync());
    }
}
