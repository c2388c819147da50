using System.Diagnostics;
using Pipeline.Tests;

namespace Pipeline.Import.Tests;

/// <summary>An upload by the AWS CLI (a multipart upload, a key with spaces and <c>+</c>) is notified like one by <c>pipeline import</c>.</summary>
public sealed class AwsCliUploadTests
{
    [Fact]
    public async Task A_multipart_upload_by_the_aws_cli_with_spaces_and_plus_in_its_key_is_imported()
    {
        await using var h = await ImportHarness.StartAsync(processor: false);
        var folder = Path.Combine(Path.GetTempPath(), $"aws-cli-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            const int rows = 70_000; // about 6 MB: two parts of the CLI's smallest 5 MB chunk
            var file = Path.Combine(folder, "rows.jsonl");
            await File.WriteAllTextAsync(file, ImportHarness.Lines(Enumerable.Range(1, rows).Select(i => (object)new { eventType = "cli", userId = $"user-{i:D8}" })));
            var config = Path.Combine(folder, "config");
            await File.WriteAllTextAsync(config, "[default]\nregion = us-east-1\ns3 =\n  multipart_threshold = 1MB\n  multipart_chunksize = 5MB\n");

            var start = new ProcessStartInfo("aws") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "s3", "cp", file, $"s3://{h.Bucket}/uploads/q1 backfill+extra.jsonl", "--endpoint-url", h.Aws.Endpoints.Fauxqs.ToString() })
            {
                start.ArgumentList.Add(argument);
            }
            start.Environment["AWS_CONFIG_FILE"] = config;
            start.Environment["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(folder, "none");
            start.Environment["AWS_ACCESS_KEY_ID"] = "local";
            start.Environment["AWS_SECRET_ACCESS_KEY"] = "local";
            using (var cli = Process.Start(start)!)
            {
                var errors = cli.StandardError.ReadToEndAsync();
                await cli.StandardOutput.ReadToEndAsync();
                await cli.WaitForExitAsync();
                Assert.True(cli.ExitCode == 0, await errors);
            }

            var record = await h.FinishedRecordAsync("uploads/q1 backfill+extra.jsonl", TimeSpan.FromSeconds(120));
            Assert.Matches("-[0-9]+$", record["etag"].S); // a multipart upload's ETag
            Assert.Equal("imported", record["status"].S);
            Assert.Equal(rows.ToString(System.Globalization.CultureInfo.InvariantCulture), record["accepted"].N);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
