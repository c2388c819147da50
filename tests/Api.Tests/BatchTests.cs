using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pipeline.Api.Tests;

public sealed class BatchTests
{
    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static string Batch(int count, Func<int, object?> item) =>
        JsonSerializer.Serialize(new { events = Enumerable.Range(0, count).Select(item).ToArray() });

    [Fact]
    public async Task A_batch_enqueues_its_valid_items_and_reports_each_item_in_order()
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateKeyedClient();
        var body = Batch(25, i => i % 5 == 3 ? new { eventType = "bad type", userId = "u" } : new { eventType = "click", userId = $"u{i}" });

        var response = await client.PostAsync("/events/batch", Json(body));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var result = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(20, result["accepted"]!.GetValue<int>());
        Assert.Equal(5, result["rejected"]!.GetValue<int>());
        var items = result["items"]!.AsArray();
        Assert.Equal(25, items.Count);
        for (var i = 0; i < 25; i++)
        {
            Assert.Equal(i, items[i]!["index"]!.GetValue<int>());
            Assert.Equal(i % 5 == 3 ? "invalid" : "accepted", items[i]!["status"]!.GetValue<string>());
        }
        Assert.Contains("eventType", items[3]!["errors"]!.AsObject().Select(e => e.Key));
        var messages = await app.DrainQueueAsync();
        var message = Assert.Single(messages); // twenty small events: one message, one billed request
        Assert.Equal(3, JsonNode.Parse(message.Body)!["schemaVersion"]!.GetValue<int>());
        var queued = JsonNode.Parse(message.Body)!["events"]!.AsArray();
        var acceptedIds = items.Where(i => i!["status"]!.GetValue<string>() == "accepted").Select(i => i!["eventId"]!.GetValue<string>()).Order();
        Assert.Equal(acceptedIds, queued.Select(e => e!["eventId"]!.GetValue<string>()).Order());
    }

    [Fact]
    public async Task A_batch_where_every_item_is_invalid_is_a_400_with_each_items_errors()
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateKeyedClient();

        var response = await client.PostAsync("/events/batch", Json("""{ "events": [ { "userId": "u" }, null, { "eventType": "a" } ] }"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(3, problem["items"]!.AsArray().Count);
        Assert.All(problem["items"]!.AsArray(), i => Assert.Equal("invalid", i!["status"]!.GetValue<string>()));
        Assert.Empty(await app.DrainQueueAsync(waitSeconds: 0));
    }

    [Fact]
    public async Task An_idempotency_key_on_a_batch_is_refused_rather_than_ignored()
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateKeyedClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/events/batch") { Content = Json("""{ "events": [ { "eventType": "a", "userId": "u" } ] }""") };
        request.Headers.Add("Idempotency-Key", "k-1");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("eventId", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(await app.DrainQueueAsync(waitSeconds: 0));
    }

    [Theory]
    [InlineData("""{ "events": [] }""")]
    [InlineData("""{ }""")]
    [InlineData("""{ "events": 5 }""")]
    public async Task A_malformed_batch_envelope_is_a_400(string body)
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateKeyedClient();

        var response = await client.PostAsync("/events/batch", Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_batch_over_the_event_count_limit_is_a_400_and_enqueues_nothing()
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateKeyedClient();

        var response = await client.PostAsync("/events/batch", Json(Batch(101, i => new { eventType = "a", userId = "u" })));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("events", (await response.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsObject().Select(e => e.Key));
        Assert.Empty(await app.DrainQueueAsync(waitSeconds: 0));
    }

    [Fact]
    public async Task A_batch_over_the_byte_limit_is_a_413_and_an_oversized_item_is_invalid()
    {
        await using var app = await ApiApplication.StartAsync(s =>
        {
            s["Limits:MaxBatchBytes"] = "8192";
            s["Limits:MaxEventBytes"] = "1024";
        });
        using var client = app.CreateKeyedClient();

        var tooBig = await client.PostAsync("/events/batch", Json(Batch(20, i => new { eventType = "a", userId = "u", properties = new { pad = new string('x', 500) } })));
        var oneOversized = await client.PostAsync(
            "/events/batch", Json(Batch(2, i => new { eventType = "a", userId = "u", properties = new { pad = new string('x', i == 0 ? 2000 : 10) } })));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooBig.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, oneOversized.StatusCode);
        var items = (await oneOversized.Content.ReadFromJsonAsync<JsonObject>())!["items"]!.AsArray();
        Assert.Equal("invalid", items[0]!["status"]!.GetValue<string>());
        Assert.Equal("accepted", items[1]!["status"]!.GetValue<string>());
        Assert.Single(await app.DrainQueueAsync());
    }

    [Fact]
    public async Task A_batch_travels_many_events_to_a_message_each_message_within_64_KB()
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateKeyedClient();

        var response = await client.PostAsync("/events/batch", Json(Batch(100, i => new { eventType = "a", userId = $"u{i}", properties = new { pad = new string('x', 3000) } })));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var messages = await app.DrainQueueAsync();
        Assert.InRange(messages.Count, 5, 6); // about 300 KB of events
        Assert.All(messages, m => Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(m.Body), 1, 64 * 1024));
        var ids = (await response.Content.ReadFromJsonAsync<JsonObject>())!["items"]!.AsArray().Select(i => i!["eventId"]!.GetValue<string>());
        Assert.Equal(ids.Order(), messages.SelectMany(m => JsonNode.Parse(m.Body)!["events"]!.AsArray()).Select(e => e!["eventId"]!.GetValue<string>()).Order());
    }
}
