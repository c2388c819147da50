using System.Diagnostics;
using System.Text.Json.Nodes;
using Pipeline.ApiKeys;
using Pipeline.Local.Environment;
using Pipeline.Local.Hosting;
using Pipeline.Tests;

namespace Pipeline.Api.Tests;

public sealed class SwaggerUiTests
{
    [Fact]
    public async Task In_the_swagger_ui_a_person_authorizes_with_a_key_and_sends_the_example_event()
    {
        Assert.True(File.Exists("/usr/bin/chromium") || Environment.GetEnvironmentVariable("CHROMIUM") is not null,
            "This test drives Chromium: apt install chromium (.ci/run does).");
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var (key, _) = await new ApiKeyRegistry(aws.DynamoDb, stack["ApiKeysTable"]).CreateAsync("swagger", CancellationToken.None);
        var url = $"http://127.0.0.1:{LocalEmulators.FreePort()}";
        await using var api = await LocalApi.StartAsync(aws.Endpoints, stack, url, CancellationToken.None);

        var result = JsonNode.Parse(await RunBrowserAsync(url, key))!;

        Assert.Equal("202", result["status"]!.GetValue<string>());
        var eventId = JsonNode.Parse(result["body"]!.GetValue<string>())!["eventId"]!.GetValue<string>();
        var message = Assert.Single((await aws.Sqs.ReceiveMessageAsync(new Amazon.SQS.Model.ReceiveMessageRequest { QueueUrl = stack.Resources["EventsQueue"].Ref, WaitTimeSeconds = 2 })).Messages);
        Assert.Equal(eventId, JsonNode.Parse(message.Body)!["eventId"]!.GetValue<string>());
        Assert.Equal("page_view", JsonNode.Parse(message.Body)!["eventType"]!.GetValue<string>()); // the request example
    }

    private static async Task<string> RunBrowserAsync(string url, string key)
    {
        var folder = Path.Combine(RepositoryPaths.Discover().Root, "tests", "Browser");
        if (!Directory.Exists(Path.Combine(folder, "node_modules", "playwright-core")))
        {
            await RunAsync("npm", folder, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error");
        }
        return await RunAsync("node", folder, "swagger-ui.mjs", url, key);
    }

    private static async Task<string> RunAsync(string program, string folder, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} failed: {await errors}");
        return (await output).Trim();
    }
}
