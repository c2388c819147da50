using System.Text.RegularExpressions;
using Pipeline.ApiKeys;
using Pipeline.Local.Emulators;
using Pipeline.Tests;

namespace Pipeline.Local.Tests;

public sealed partial class GenerateCommandTests
{
    [Fact]
    public async Task Generate_at_a_fixed_count_accounts_for_every_event_sent_and_the_queue_holds_what_was_accepted()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var (key, _) = await new ApiKeyRegistry(aws.DynamoDb, stack["ApiKeysTable"]).CreateAsync("load", CancellationToken.None);
        var url = $"http://127.0.0.1:{LocalEmulators.FreePort()}";
        await using var api = await InProcess.StartApiAsync(aws.Endpoints, stack, url, CancellationToken.None);

        using var output = new StringWriter();
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(["generate", "--rate", "100", "--duration", "1.5", "--url", url, "--key", key,
            "--invalid", "0.2", "--duplicates", "0.1", "--batch", "5", "--seed", "7"], output, CancellationToken.None));

        var report = Report().Match(output.ToString());
        Assert.True(report.Success, output.ToString());
        var (sent, accepted, refused) = (int.Parse(report.Groups[1].Value), int.Parse(report.Groups[2].Value), int.Parse(report.Groups[3].Value));
        Assert.Equal(150, sent);
        Assert.Equal(sent, accepted + refused);
        Assert.InRange(refused, 10, 60); // about a fifth were made invalid
        // A duplicate accepted again is enqueued again (and stored once); a batch's events travel in batch messages.
        var queued = 0;
        var receive = new Amazon.SQS.Model.ReceiveMessageRequest { QueueUrl = stack.Resources["EventsQueue"].Ref, MaxNumberOfMessages = 10, WaitTimeSeconds = 1 };
        while ((await aws.Sqs.ReceiveMessageAsync(receive)).Messages is { Count: > 0 } page)
        {
            queued += page.Sum(m => System.Text.Json.Nodes.JsonNode.Parse(m.Body)!["events"]?.AsArray().Count ?? 1);
        }
        Assert.Equal(accepted, queued);
        Assert.DoesNotContain("\r", output.ToString(), StringComparison.Ordinal); // no live progress when the output is not a terminal
    }

    [GeneratedRegex(@"sent (\d+) events .*accepted (\d+), refused (\d+)")]
    private static partial Regex Report();
}
