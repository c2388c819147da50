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

    // The Api runs without run-time code generation (DynamicCodeSupport=false: expression trees, Reflection.Emit and
    // compiled regexes are interpreted, for a shorter cold start). The in-process tests run it with the test host's
    // settings, so this one drives every kind of path through the process itself: a library that emitted code would
    // fail here, and only here.
    [Fact]
    public async Task The_api_process_generates_no_code_at_run_time_and_each_kind_of_request_still_works()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var (key, _) = await new ApiKeyRegistry(aws.DynamoDb, stack["ApiKeysTable"]).CreateAsync("local-api-interpreted", CancellationToken.None);
        await new Pipeline.Plans.TrackingPlanStore(aws.DynamoDb, stack["TrackingPlansTable"]).SetAsync("""
            {"mode": "block", "events": {"signup": {"properties": {"type": "object", "properties": {"plan": {"type": "string", "pattern": "^(free|team)$"}}}}}}
            """, CancellationToken.None);
        var url = $"http://127.0.0.1:{LocalEmulators.FreePort()}";

        await using var api = await LocalApi.StartAsync(stack, aws.Endpoints, url, _ => { }, CancellationToken.None);
        using var config = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(api.Definition.TaskRoot, "Pipeline.Api.runtimeconfig.json")));
        Assert.False(config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties")
            .GetProperty("System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported").GetBoolean());

        using var http = new HttpClient { BaseAddress = new Uri(url) };
        async Task<HttpResponseMessage> PostAsync(string path, string json)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
            request.Headers.Add("x-api-key", key);
            return await http.SendAsync(request);
        }
        // Validators, the plan's pattern, and the batch's results: one accepted, one refused by each.
        using var batch = await PostAsync("/events/batch", """
            {"events": [{"eventType": "signup", "userId": "u-1", "properties": {"plan": "team"}},
                        {"eventType": "signup", "userId": "u-2", "properties": {"plan": "gold"}},
                        {"eventType": "1-not-a-type", "userId": "u-3"}]}
            """);
        Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
        using var results = System.Text.Json.JsonDocument.Parse(await batch.Content.ReadAsStringAsync());
        Assert.Equal(["accepted", "invalid", "invalid"], results.RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("status").GetString()));
        Assert.Contains("plan", results.RootElement.GetProperty("items")[1].GetProperty("errors").GetRawText(), StringComparison.Ordinal);
        // A problem, Segment's endpoint with its own authentication, and the OpenAPI document Swagger UI reads.
        using var problem = await PostAsync("/events", "{\"eventType\": 5}");
        Assert.Equal(HttpStatusCode.BadRequest, problem.StatusCode);
        Assert.Equal("application/problem+json", problem.Content.Headers.ContentType?.MediaType);
        using var segment = new HttpRequestMessage(HttpMethod.Post, "/v1/track")
        {
            Content = new StringContent("""{"type": "track", "event": "Signed Up", "userId": "u-4", "messageId": "interpreted-1"}""",
                System.Text.Encoding.UTF8, "application/json"),
        };
        var writeKey = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(key + ":"));
        segment.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", writeKey);
        using var tracked = await http.SendAsync(segment);
        Assert.Equal(HttpStatusCode.OK, tracked.StatusCode);
        var openApi = await http.GetStringAsync("/swagger/v1/swagger.json");
        Assert.Contains("\"/events/batch\"", openApi, StringComparison.Ordinal);
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
