using Pipeline.Cli;
using Pipeline.Tests;

namespace Pipeline.Import.Tests;

/// <summary><c>pipeline import</c> and <c>import status</c> against a local stack, with a key S3 URL-encodes (spaces and <c>+</c>).</summary>
public sealed class ImportCommandTests
{
    [Fact]
    public async Task Import_uploads_a_file_waits_for_its_report_and_status_lists_it()
    {
        await using var h = await ImportHarness.StartAsync(processor: false);
        var file = Path.Combine(Path.GetTempPath(), $"import-{Guid.NewGuid():N}.jsonl");
        await File.WriteAllTextAsync(file, ImportHarness.Lines([new { eventType = "a", userId = "u-1" }, "oops", new { eventType = "b", userId = "u-2" }]));
        string[] target = ["--stack", h.Stack.StackName, "--fauxqs", h.Aws.Endpoints.Fauxqs.ToString(), "--endpoint", h.Aws.Endpoints.DynamoDb.ToString()];
        try
        {
            using var output = new StringWriter();
            var code = await CliCommands.RunAsync(["import", file, "--key", "my backfill+1.jsonl", "--timeout", "60", .. target], output, CancellationToken.None);

            var text = output.ToString();
            Assert.Equal(1, code); // a refused row: a script can tell
            Assert.Contains($"s3://{h.Bucket}/uploads/my backfill+1.jsonl: imported; 3 read, 2 accepted, 1 refused", text, StringComparison.Ordinal);
            Assert.Contains("line 2: The line is not JSON", text, StringComparison.Ordinal);

            using var status = new StringWriter();
            Assert.Equal(0, await CliCommands.RunAsync(["import", "status", .. target], status, CancellationToken.None));
            Assert.Contains("my backfill+1.jsonl", status.ToString(), StringComparison.Ordinal);
            Assert.Contains("1 import(s) in all.", status.ToString(), StringComparison.Ordinal);

            using var refused = new StringWriter();
            Assert.Equal(2, await CliCommands.RunAsync(["import", file + ".csv", .. target], refused, CancellationToken.None));
            Assert.Single(await h.ScanAsync(h.Stack["ImportsTable"])); // a refused command line changes nothing
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_file_of_12_MB_uploads_to_the_local_stack_which_refuses_a_single_put_of_that_size()
    {
        await using var h = await ImportHarness.StartAsync(processor: false);
        var file = Path.Combine(Path.GetTempPath(), $"import-{Guid.NewGuid():N}.jsonl");
        var row = System.Text.Json.JsonSerializer.Serialize(new { eventType = "a", userId = "u-1", properties = new { pad = new string('x', 950) } }) + "\n";
        await File.WriteAllTextAsync(file, string.Concat(Enumerable.Repeat(row, 12 * 1024 * 1024 / row.Length)));
        string[] target = ["--stack", h.Stack.StackName, "--fauxqs", h.Aws.Endpoints.Fauxqs.ToString(), "--endpoint", h.Aws.Endpoints.DynamoDb.ToString()];
        try
        {
            using var output = new StringWriter();
            Assert.Equal(0, await CliCommands.RunAsync(["import", file, "--key", "big.jsonl", "--no-wait", .. target], output, CancellationToken.None));
            Assert.Equal(new FileInfo(file).Length, (await h.Aws.S3.GetObjectMetadataAsync(h.Bucket, "uploads/big.jsonl")).ContentLength);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
