using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Pipeline.Api.Tests;

public sealed class QueueFailureTests
{
    // A port nothing listens on: the queue is unreachable, DynamoDB (for the API key) is not.
    private const string ClosedPort = "http://127.0.0.1:9/";

    [Fact]
    public async Task An_unreachable_queue_gives_503_with_retry_after_and_accepts_nothing()
    {
        await using var app = await ApiApplication.StartAsync(s => s["AWS:SQS:ServiceURL"] = ClosedPort);
        using var client = app.CreateKeyedClient();

        var single = await client.PostAsync("/events", new StringContent("""{ "eventType": "a", "userId": "u" }""", Encoding.UTF8, "application/json"));
        var batch = await client.PostAsync(
            "/events/batch",
            new StringContent("""{ "events": [ { "eventType": "a", "userId": "u" }, { "eventType": "b", "userId": "u" } ] }""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, single.StatusCode);
        Assert.NotNull(single.Headers.RetryAfter);
        Assert.Equal("application/problem+json", single.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("eventId", await single.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, batch.StatusCode);
        Assert.NotNull(batch.Headers.RetryAfter);
        var items = (await batch.Content.ReadFromJsonAsync<JsonObject>())!["items"]!.AsArray();
        Assert.All(items, i => Assert.Equal("unavailable", i!["status"]!.GetValue<string>()));
        Assert.Empty(await app.DrainQueueAsync(waitSeconds: 0));
    }

    [Fact]
    public async Task An_unreachable_key_table_gives_503_not_401()
    {
        await using var app = await ApiApplication.StartAsync(s => s["AWS:DynamoDB:ServiceURL"] = ClosedPort);
        using var client = app.CreateKeyedClient();

        var response = await client.PostAsync("/events", new StringContent("""{ "eventType": "a", "userId": "u" }""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
    }
}
