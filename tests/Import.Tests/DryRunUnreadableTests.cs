using Pipeline.Cli;

namespace Pipeline.Import.Tests;

/// <summary>
/// Files the import finds unreadable, as a whole or after some rows: a dry run says what the import then says, and the
/// import closes the file with a report instead of failing its invocation until the DLQ.
/// </summary>
public sealed class DryRunUnreadableTests
{
    private static readonly string Rows = ImportHarness.Lines([
        new { eventType = "page_view", userId = "u-1" }, new { eventType = "page_view", userId = "u-2" }, new { eventType = "page_view", userId = "u-3" }]);

    public static TheoryData<string, string, byte[]> Files()
    {
        var gzip = ImportHarness.Gzip(Rows);
        return new()
        {
            // A .gz name on a plain file (a browser that decompressed the download): no gzip header to read.
            { "plain.csv.gz", "cannot be decompressed", System.Text.Encoding.UTF8.GetBytes("eventType,userId\npage_view,u-1\n") },
            // A cut upload: its rows before the cut are imported, the file unreadable.
            { "cut.jsonl.gz", "truncated or corrupt", gzip[..(gzip.Length - 6)] },
            { "binary.jsonl", "The file is binary", [.. System.Text.Encoding.UTF8.GetBytes(Rows), 0, 1, 2, (byte)'\n'] },
        };
    }

    [Theory]
    [MemberData(nameof(Files))]
    public async Task A_dry_run_of_an_unreadable_file_reports_what_its_import_then_reports(string name, string reason, byte[] bytes)
    {
        await using var h = await ImportHarness.StartAsync(processor: false);
        var file = Path.Combine(Path.GetTempPath(), $"dry-{Guid.NewGuid():N}-{name}");
        await File.WriteAllBytesAsync(file, bytes);
        string[] target = ["--stack", h.Stack.StackName, "--fauxqs", h.Aws.Endpoints.Fauxqs.ToString(), "--endpoint", h.Aws.Endpoints.DynamoDb.ToString()];
        try
        {
            using var dry = new StringWriter();
            Assert.Equal(1, await CliCommands.RunAsync(["import", file, "--key", name, "--dry-run", .. target], dry, CancellationToken.None));
            var dryLines = dry.ToString().Split('\n').Select(l => l.TrimEnd()).ToList();
            Assert.Contains("): unreadable;", dryLines[0], StringComparison.Ordinal);
            Assert.Contains(reason, dryLines[1], StringComparison.Ordinal);

            using var real = new StringWriter();
            Assert.Equal(1, await CliCommands.RunAsync(["import", file, "--key", name, "--timeout", "60", .. target], real, CancellationToken.None));
            var realLines = real.ToString().Split('\n').Select(l => l.TrimEnd()).ToList();
            Assert.Equal(dryLines[0][(dryLines[0].IndexOf("): ", StringComparison.Ordinal) + 3)..], realLines[1][(realLines[1].IndexOf(": ", StringComparison.Ordinal) + 2)..]);
            Assert.Equal(dryLines[1], realLines[2]);
            Assert.DoesNotContain(h.Importer.Reports, r => r.ErrorType is not null);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_gz_name_on_a_plain_file_is_unreadable_with_a_report_not_an_invocation_failed_until_the_dlq()
    {
        await using var h = await ImportHarness.StartAsync(processor: false);
        await h.UploadAsync("uploads/plain.jsonl.gz", Rows);
        var record = await h.FinishedRecordAsync("uploads/plain.jsonl.gz", TimeSpan.FromSeconds(30));
        Assert.Equal("unreadable", record["status"].S);
        Assert.Contains("cannot be decompressed", record["error"].S, StringComparison.Ordinal);
        Assert.DoesNotContain(h.Importer.Reports, r => r.ErrorType is not null);
    }
}
