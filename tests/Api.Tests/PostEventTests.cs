using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;

namespace Pipeline.Api.Tests;

public sealed class PostEventTests
{
    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task A_valid_event_is_accepted_and_the_queued_message_carries_the_enriched_fields()
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateKeyedClient();
        client.DefaultRequestHeaders.UserAgent.ParseAdd("pipeline-tests/1.0");

        var response = await client.PostAsync("/events", Json("""
            { "eventType": "page_view", "userId": "u-1", "occurredAt": "2026-11-24T10:00:00+01:00", "properties": { "path": "/pricing", "n": 3 } }
            """.Replace("2026-11-24T10:00:00+01:00", DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:sszzz"), StringComparison.Ordinal)));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var eventId = (await response.Content.ReadFromJsonAsync<JsonObject>())!["eventId"]!.GetValue<string>();
        Assert.Equal(7, Guid.Parse(eventId).Version);
        var message = Assert.Single(await app.DrainQueueAsync());
        var body = JsonNode.Parse(message.Body)!;
        Assert.Equal(eventId, body["eventId"]!.GetValue<string>());
        Assert.Equal("page_view", body["eventType"]!.GetValue<string>());
        Assert.Equal("u-1", body["userId"]!.GetValue<string>());
        Assert.Equal(Pipeline.Events.QueuedEvent.CurrentSchemaVersion, body["schemaVersion"]!.GetValue<int>());
        Assert.Null(body["plan"]); // no tracking plan is set
        Assert.Equal("pipeline-tests/1.0", body["userAgent"]!.GetValue<string>());
        Assert.Equal("/pricing", body["properties"]!["path"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(body["requestId"]!.GetValue<string>()));
        Assert.Equal(response.Headers.GetValues("X-Request-Id").Single(), body["requestId"]!.GetValue<string>());
        var receivedAt = body["receivedAt"]!.GetValue<DateTimeOffset>();
        Assert.InRange(receivedAt, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal(TimeSpan.Zero, receivedAt.Offset);
        Assert.Equal(TimeSpan.Zero, body["occurredAt"]!.GetValue<DateTimeOffset>().Offset);
        Assert.Equal("page_view", message.MessageAttributes["eventType"].StringValue);
    }

    [Fact]
    public async Task The_client_event_id_or_idempotency_key_is_kept()
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateKeyedClient();

        var fromBody = await client.PostAsync("/events", Json("""{ "eventType": "a", "anonymousId": "x", "eventId": "order-17" }"""));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/events") { Content = Json("""{ "eventType": "a", "anonymousId": "x" }""") };
        request.Headers.Add("Idempotency-Key", "order-18");
        var fromHeader = await client.SendAsync(request);

        Assert.Equal("order-17", (await fromBody.Content.ReadFromJsonAsync<JsonObject>())!["eventId"]!.GetValue<string>());
        Assert.Equal("order-18", (await fromHeader.Content.ReadFromJsonAsync<JsonObject>())!["eventId"]!.GetValue<string>());
        var ids = (await app.DrainQueueAsync()).Select(m => JsonNode.Parse(m.Body)!["eventId"]!.GetValue<string>()).Order();
        Assert.Equal(["order-17", "order-18"], ids);
    }

    [Fact]
    public async Task An_unexpected_failure_is_a_500_problem_that_shows_no_internals()
    {
        await using var app = await ApiApplication.StartAsync(services: s => s.AddSingleton<TimeProvider>(new BrokenClock()));
        using var client = app.CreateKeyedClient();

        var response = await client.PostAsync("/events", Json("""{ "eventType": "a", "userId": "u" }"""));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(BrokenClock.Secret, body, StringComparison.Ordinal);
        Assert.DoesNotContain("at Pipeline.", body, StringComparison.Ordinal);
        Assert.Contains("requestId", body, StringComparison.Ordinal);
        Assert.Empty(await app.DrainQueueAsync(waitSeconds: 0));
    }

    private sealed class BrokenClock : TimeProvider
    {
        public const string Secret = "connection string with password=hunter2";

        public override DateTimeOffset GetUtcNow() => throw new InvalidOperationException(Secret);
    }

    [Fact]
    public async Task Concurrent_events_are_each_enqueued_exactly_once()
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateKeyedClient();

        var responses = await Task.WhenAll(Enumerable.Range(0, 60).Select(i =>
            client.PostAsync("/events", Json($$"""{ "eventType": "burst", "userId": "u{{i}}" }"""))));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        var ids = new List<string>();
        foreach (var response in responses)
        {
            ids.Add((await response.Content.ReadFromJsonAsync<JsonObject>())!["eventId"]!.GetValue<string>());
        }
        var queued = await app.DrainQueueAsync();
        Assert.Equal(ids.Order(), queued.Select(m => JsonNode.Parse(m.Body)!["eventId"]!.GetValue<string>()).Order());
    }

    public static TheoryData<string, string> InvalidEvents => new()
    {
        { """{ "userId": "u" }""", "eventType" },
        { """{ "eventType": "", "userId": "u" }""", "eventType" },
        { """{ "eventType": "9lives", "userId": "u" }""", "eventType" },
        { """{ "eventType": "has space", "userId": "u" }""", "eventType" },
        { $$"""{ "eventType": "{{new string('a', 65)}}", "userId": "u" }""", "eventType" },
        { """{ "eventType": "a" }""", "userId" },
        { """{ "eventType": "a", "userId": " ", "anonymousId": "" }""", "userId" },
        { $$"""{ "eventType": "a", "userId": "{{new string('u', 129)}}" }""", "userId" },
        { """{ "eventType": "a", "userId": "u", "occurredAt": "yesterday" }""", "occurredAt" },
        { """{ "eventType": "a", "userId": "u", "occurredAt": "2026-11-24T10:00:00" }""", "occurredAt" },
        { """{ "eventType": "a", "userId": "u", "occurredAt": "2999-01-01T00:00:00Z" }""", "occurredAt" },
        { """{ "eventType": "a", "userId": "u", "occurredAt": "2001-01-01T00:00:00Z" }""", "occurredAt" },
        { """{ "eventType": "a", "userId": "u", "properties": [1, 2] }""", "properties" },
        { """{ "eventType": "a", "userId": "u", "properties": "text" }""", "properties" },
        { """{ "eventType": "a", "userId": "u", "properties": { "a": { "b": { "c": { "d": { "e": { "f": { "g": { "h": { "i": 1 } } } } } } } } } }""", "properties" },
        { """{ "eventType": "a", "userId": "u", "eventId": "has space" }""", "eventId" },
        { """{ "eventType": "a", "userId": "u", "eventId": "" }""", "eventId" },
    };

    [Theory]
    [MemberData(nameof(InvalidEvents))]
    public async Task An_invalid_event_gets_a_400_naming_the_field_and_is_not_enqueued(string json, string field)
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateKeyedClient();

        var response = await client.PostAsync("/events", Json(json));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        var errors = problem["errors"]!.AsObject();
        Assert.True(errors.ContainsKey(field), $"errors {errors.ToJsonString()} should name {field}");
        Assert.Contains(field, errors[field]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(await app.DrainQueueAsync(waitSeconds: 0));
    }

    [Fact]
    public async Task An_idempotency_key_that_differs_from_the_body_event_id_is_refused()
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateKeyedClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/events") { Content = Json("""{ "eventType": "a", "userId": "u", "eventId": "one" }""") };
        request.Headers.Add("Idempotency-Key", "two");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("eventId", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(await app.DrainQueueAsync(waitSeconds: 0));
    }

    [Fact]
    public async Task An_event_over_the_size_limit_gets_a_413()
    {
        await using var app = await ApiApplication.StartAsync(s => s["Limits:MaxEventBytes"] = "2048");
        using var client = app.CreateKeyedClient();
        var big = JsonSerializer.Serialize(new { eventType = "a", userId = "u", properties = new { blob = new string('x', 3000) } });

        var response = await client.PostAsync("/events", Json(big));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await app.DrainQueueAsync(waitSeconds: 0));
    }

    [Theory]
    [InlineData("text/plain", """{ "eventType": "a", "userId": "u" }""", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("application/json", "{ not json", HttpStatusCode.BadRequest)]
    [InlineData("application/json", "", HttpStatusCode.BadRequest)]
    [InlineData("application/json", "null", HttpStatusCode.BadRequest)]
    public async Task An_unreadable_body_gets_a_problem_and_is_not_enqueued(string contentType, string body, HttpStatusCode expected)
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateKeyedClient();

        var response = await client.PostAsync("/events", new StringContent(body, Encoding.UTF8, contentType));

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await app.DrainQueueAsync(waitSeconds: 0));
    }

    [Fact]
    public async Task Invalid_utf8_is_a_400()
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateKeyedClient();
        var bytes = Encoding.UTF8.GetBytes("""{ "eventType": "a", "userId": "X" }""");
        bytes[Array.IndexOf(bytes, (byte)'X')] = 0xC3; // a lead byte with no continuation
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new("application/json");

        var response = await client.PostAsync("/events", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(await app.DrainQueueAsync(waitSeconds: 0));
    }

    [Fact]
    public async Task Unknown_routes_and_methods_get_problem_details()
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateKeyedClient();

        var notFound = await client.GetAsync("/nowhere");
        var wrongMethod = await client.GetAsync("/events");

        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
        Assert.Equal("application/problem+json", notFound.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        Assert.Equal("application/problem+json", wrongMethod.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_source_ip_comes_from_x_forwarded_for_only_behind_a_trusted_proxy()
    {
        await using var trusting = await ApiApplication.StartAsync();
        await using var untrusting = await ApiApplication.StartAsync(s => s["Proxy:TrustedNetworks:0"] = "10.99.0.0/16");

        async Task<string?> SourceIp(ApiApplication app)
        {
            using var client = app.CreateKeyedClient();
            using var request = new HttpRequestMessage(HttpMethod.Post, "/events") { Content = Json("""{ "eventType": "a", "userId": "u" }""") };
            request.Headers.Add("X-Forwarded-For", "203.0.113.7");
            Assert.Equal(HttpStatusCode.Accepted, (await client.SendAsync(request)).StatusCode);
            return JsonNode.Parse(Assert.Single(await app.DrainQueueAsync()).Body)!["sourceIp"]?.GetValue<string>();
        }

        // The test server's connection comes from 127.0.0.1, which the default settings trust (the Web Adapter on Lambda).
        Assert.Equal("203.0.113.7", await SourceIp(trusting));
        Assert.Equal("127.0.0.1", await SourceIp(untrusting)); // the connection's own address, not the header's
    }
}
