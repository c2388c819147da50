using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Amazon.SQS.Model;
using Pipeline.ApiKeys;
using Pipeline.Local.Emulators;
using Pipeline.Local.Lambda;
using Pipeline.Tests;

namespace Pipeline.Local.Tests;

/// <summary>The local environment runs the Api as the Lambda Web Adapter does: its built program, as its own process (docs/architecture.md, D8).</summary>
public sealed class LocalApiTests
{
    [Fact]
    public async Task The_api_runs_as_its_own_process_with_lambdas_environment_and_queues_an_event_on_the_stack()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var (key, _) = await new ApiKeyRegistry(aws.DynamoDb, stack["ApiKeysTable"]).CreateAsync("local-api", CancellationToken.None);
        var lines = new ConcurrentQueue<string>();
        var url = $"http://127.0.0.1:{LocalEmulators.FreePort()}";

        await using (var api = await LocalApi.StartAsync(stack, aws.Endpoints, url, lines.Enqueue, CancellationToken.None))
        {
            Assert.NotEqual(Environment.ProcessId, api.ProcessId);
            Assert.Contains("Pipeline.Api.dll", await File.ReadAllTextAsync($"/proc/{api.ProcessId}/cmdline"), StringComparison.Ordinal);
            Assert.Equal(stack["EventsQueue"], api.Definition.Environment["Queue__Url"].Split('/')[^1]);

            using var http = new HttpClient();
            using var request = new HttpRequestMessage(HttpMethod.Post, $"{url}/events")
            {
                Content = new StringContent("""{"eventType":"page_view","userId":"u-1","eventId":"local-api-process-1"}""", System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("x-api-key", key);
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

            // The queue of the stack, reached through the emulator endpoints Lambda's environment names (AWS_ENDPOINT_URL_SQS).
            var queueUrl = (await aws.Sqs.GetQueueUrlAsync(stack["EventsQueue"])).QueueUrl;
            var received = await aws.Sqs.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = queueUrl, WaitTimeSeconds = 5, MaxNumberOfMessages = 10 });
            Assert.Contains(received.Messages ?? [], m => m.Body.Contains("local-api-process-1", StringComparison.Ordinal));

            var pid = api.ProcessId;
            await api.DisposeAsync();
            Assert.False(File.Exists($"/proc/{pid}/cmdline") && File.ReadAllText($"/proc/{pid}/cmdline").Contains("Pipeline.Api.dll", StringComparison.Ordinal));
        }
    }

    // The plan's patterns run as the shipped process runs them. JSON Schema's `pattern` is a compiled regex with a 20 ms
    // match budget (docs/tracking-plan.md); the same regex interpreted (as it is when a process may not generate code:
    // DynamicCodeSupport=false, tried for the Api's cold start and dropped) takes 10 to 100 times longer on long values,
    // and this matching value of 2 KB would be refused as a pattern that did not finish.
    [Fact]
    public async Task A_long_value_that_matches_a_plan_pattern_is_accepted_by_the_api_process()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var (key, _) = await new ApiKeyRegistry(aws.DynamoDb, stack["ApiKeysTable"]).CreateAsync("local-api-pattern", CancellationToken.None);
        await new Pipeline.Plans.TrackingPlanStore(aws.DynamoDb, stack["TrackingPlansTable"]).SetAsync("""
            {"mode": "block", "events": {"page_view": {"properties": {"type": "object",
              "properties": {"url": {"type": "string", "pattern": "^.*/.*\\.html(\\?.*)?$"}}}}}}
            """, CancellationToken.None);
        var url = $"http://127.0.0.1:{LocalEmulators.FreePort()}";
        var lines = new ConcurrentQueue<string>();

        await using var api = await LocalApi.StartAsync(stack, aws.Endpoints, url, lines.Enqueue, CancellationToken.None);
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        async Task<HttpStatusCode> PostAsync(string page)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/events")
            {
                Content = new StringContent(System.Text.Json.JsonSerializer.Serialize(new { eventType = "page_view", userId = "u-1", properties = new { url = page } }),
                    System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("x-api-key", key);
            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }
        // The plan applies once the process has read it (a first read that is slow goes on without it, D18).
        Assert.True(await Eventually.UntilAsync(async () => await PostAsync("https://example.com/a.txt") == HttpStatusCode.BadRequest, TimeSpan.FromSeconds(30)),
            string.Join('\n', lines));

        // 2 KB whose slashes come after the ".html": the pattern backtracks over each of them (under 1 ms compiled).
        var next = string.Concat(Enumerable.Repeat("a/", 1000));
        Assert.Equal(HttpStatusCode.Accepted, await PostAsync("https://shop.example.com/p.html?next=" + next));
        Assert.Equal(HttpStatusCode.BadRequest, await PostAsync("https://shop.example.com/p.txt?next=" + next));
    }

    [Fact]
    public async Task A_port_in_use_is_refused_before_the_api_starts()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}";

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => LocalApi.StartAsync(stack, aws.Endpoints, url, _ => { }, CancellationToken.None));
        Assert.Contains($"{url} is in use", refused.Message, StringComparison.Ordinal);
    }
}
