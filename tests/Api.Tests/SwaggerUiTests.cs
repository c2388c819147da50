using System.Text.Json.Nodes;
using Pipeline.ApiKeys;
using Pipeline.Local.Emulators;
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
        await using var api = await InProcess.StartApiAsync(aws.Endpoints, stack, url, CancellationToken.None);

        var result = JsonNode.Parse(await NodeScripts.RunAsync("swagger-ui.mjs", TimeSpan.FromMinutes(2), url, key))!;

        Assert.Equal("202", result["status"]!.GetValue<string>());
        var eventId = JsonNode.Parse(result["body"]!.GetValue<string>())!["eventId"]!.GetValue<string>();
        var receive = new Amazon.SQS.Model.ReceiveMessageRequest { QueueUrl = stack.Resources["EventsQueue"].Ref, WaitTimeSeconds = 2 };
        var message = Assert.Single((await aws.Sqs.ReceiveMessageAsync(receive)).Messages);
        Assert.Equal(eventId, JsonNode.Parse(message.Body)!["eventId"]!.GetValue<string>());
        Assert.Equal("page_view", JsonNode.Parse(message.Body)!["eventType"]!.GetValue<string>()); // the request example
    }
}
