using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.ApiKeys;
using Pipeline.Intake;

namespace Pipeline.Api.Tests;

public sealed class SegmentTests
{
    private static StringContent Json(string body, string type = "application/json") => new(body, Encoding.UTF8, type);

    private static HttpClient BasicClient(ApiApplication app, string key)
    {
        var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(key + ":")));
        return client;
    }

    private static Task<List<JsonObject>> QueuedAsync(ApiApplication app) => app.DrainEventsAsync(waitSeconds: 0);

    [Fact]
    public async Task Every_call_is_queued_with_its_own_fields_and_answered_success_true()
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = BasicClient(app, app.ApiKey);
        var now = DateTimeOffset.UtcNow.ToString("O");

        var answers = new[]
        {
            await client.PostAsync("/v1/track", Json($$"""
                { "userId": "u1", "event": "Order Completed", "messageId": "m-track", "timestamp": "{{now}}",
                  "properties": { "revenue": 42.5, "currency": "EUR" }, "context": { "library": { "name": "test" } }, "channel": "server" }
                """)),
            await client.PostAsync("/v1/identify", Json("""{ "userId": "u1", "messageId": "m-identify", "traits": { "email": "a@example.com", "plan": "pro" } }""")),
            await client.PostAsync(
                "/v1/page", Json("""{ "anonymousId": "a1", "messageId": "m-page", "name": "Pricing", "category": "Docs", "properties": { "path": "/pricing" } }""")),
            await client.PostAsync("/v1/screen", Json("""{ "userId": "u1", "messageId": "m-screen", "name": "Home" }""")),
            await client.PostAsync("/v1/group", Json("""{ "userId": "u1", "messageId": "m-group", "groupId": "g1", "traits": { "employees": 40 } }""")),
            await client.PostAsync("/v1/alias", Json("""{ "userId": "u1", "previousId": "a1", "messageId": "m-alias" }""")),
            await client.PostAsync("/v1/t", Json("""{ "userId": "u1", "event": "Signed Up", "messageId": "m-short", "writeKey": "ignored-when-basic-auth-is-sent" }""")),
        };

        foreach (var answer in answers)
        {
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal("""{"success":true}""", await answer.Content.ReadAsStringAsync());
        }
        var queued = (await QueuedAsync(app)).ToDictionary(e => e["messageId"]!.GetValue<string>());
        Assert.Equal(7, queued.Count);
        var track = queued["m-track"];
        Assert.Equal(Pipeline.Events.QueuedEvent.CurrentSchemaVersion, track["schemaVersion"]!.GetValue<int>());
        Assert.Equal("Order Completed", track["eventType"]!.GetValue<string>());
        Assert.Equal("track", track["type"]!.GetValue<string>());
        Assert.Equal(42.5, track["properties"]!["revenue"]!.GetValue<double>());
        Assert.Equal("test", track["context"]!["library"]!["name"]!.GetValue<string>());
        Assert.Equal("127.0.0.1", track["context"]!["ip"]!.GetValue<string>()); // taken from the request
        Assert.Equal("server", track["extra"]!["channel"]!.GetValue<string>()); // a field the Spec does not name is kept
        Assert.Equal(now, track["timestamp"]!.GetValue<string>());
        Assert.Equal("identify", queued["m-identify"]["eventType"]!.GetValue<string>());
        Assert.Equal("pro", queued["m-identify"]["traits"]!["plan"]!.GetValue<string>());
        Assert.Equal("Pricing", queued["m-page"]["name"]!.GetValue<string>());
        Assert.Equal("Docs", queued["m-page"]["category"]!.GetValue<string>());
        Assert.Equal("a1", queued["m-page"]["anonymousId"]!.GetValue<string>());
        Assert.Equal("screen", queued["m-screen"]["eventType"]!.GetValue<string>());
        Assert.Equal("g1", queued["m-group"]["groupId"]!.GetValue<string>());
        Assert.Equal("a1", queued["m-alias"]["previousId"]!.GetValue<string>());
        Assert.Equal("Signed Up", queued["m-short"]["eventType"]!.GetValue<string>());
        Assert.All(queued.Values, e => Assert.DoesNotContain("writeKey", e.ToJsonString(), StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task The_write_key_is_read_from_basic_auth_the_body_or_x_api_key_and_scopes_the_message_id()
    {
        await using var app = await ApiApplication.StartAsync();
        var (otherKey, _) = await app.Keys.CreateAsync("other", CancellationToken.None);
        using var basic = BasicClient(app, app.ApiKey);
        using var header = app.CreateKeyedClient();
        using var anonymous = app.CreateClient();
        using var other = BasicClient(app, otherKey);
        using var unknown = BasicClient(app, "pk_never-created");
        const string call = """{ "userId": "u", "event": "Clicked", "messageId": "same-id" }""";

        var viaBasic = await basic.PostAsync("/v1/track", Json(call));
        var viaHeader = await header.PostAsync("/v1/track", Json(call));
        var viaBody = await anonymous.PostAsync("/v1/track", Json($$"""{ "userId": "u", "event": "Clicked", "messageId": "same-id", "writeKey": "{{app.ApiKey}}" }"""));
        var viaBatchBody = await anonymous.PostAsync(
            "/v1/batch", Json($$"""{ "writeKey": "{{app.ApiKey}}", "batch": [ { "type": "track", "userId": "u", "event": "Clicked", "messageId": "same-id" } ] }"""));
        var viaOtherKey = await other.PostAsync("/v1/track", Json(call));
        var none = await anonymous.PostAsync("/v1/track", Json(call));
        var wrong = await unknown.PostAsync("/v1/track", Json(call));
        var wrongInBody = await anonymous.PostAsync("/v1/batch", Json("""{ "writeKey": "pk_never-created", "batch": [ { "type": "track", "userId": "u", "event": "x" } ] }"""));

        Assert.All([viaBasic, viaHeader, viaBody, viaBatchBody, viaOtherKey], r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.All([none, wrong, wrongInBody], r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
        var ids = (await QueuedAsync(app)).Select(e => e["eventId"]!.GetValue<string>()).ToList();
        Assert.Equal(5, ids.Count);
        // One key: one eventId for the messageId (so the Processor stores it once); another key: another id.
        Assert.Equal(2, ids.Distinct().Count());
        Assert.Equal(4, ids.Count(id => id == SegmentEvents.EventId(ApiKeyRegistry.Hash(app.ApiKey), "same-id")));
        Assert.Single(ids, SegmentEvents.EventId(ApiKeyRegistry.Hash(otherKey), "same-id"));
    }

    [Fact]
    public async Task The_time_is_corrected_for_the_device_clock_and_a_batch_lends_its_context_and_sent_at()
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = BasicClient(app, app.ApiKey);
        // A device clock two hours fast; the call was made ten minutes before it was sent.
        var deviceNow = DateTimeOffset.UtcNow.AddHours(2);
        var before = DateTimeOffset.UtcNow;

        var response = await client.PostAsync("/v1/batch", Json($$"""
            {
              "sentAt": "{{deviceNow:O}}",
              "context": { "library": { "name": "batch-lib" }, "ip": "203.0.113.9" },
              "batch": [
                { "type": "track", "userId": "u", "event": "Late", "messageId": "skewed", "originalTimestamp": "{{deviceNow.AddMinutes(-10):O}}" },
                { "type": "track", "userId": "u", "event": "Own", "messageId": "own", "timestamp": "{{DateTimeOffset.UtcNow.AddMinutes(-3):O}}",
                  "sentAt": "{{DateTimeOffset.UtcNow:O}}", "context": { "ip": "198.51.100.7" } }
              ]
            }
            """));
        var after = DateTimeOffset.UtcNow;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var queued = (await QueuedAsync(app)).ToDictionary(e => e["messageId"]!.GetValue<string>());
        var skewed = queued["skewed"];
        var occurredAt = DateTimeOffset.Parse(skewed["occurredAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(occurredAt, before.AddMinutes(-10).AddSeconds(-1), after.AddMinutes(-10).AddSeconds(1));
        Assert.Equal($"{deviceNow:O}", skewed["sentAt"]!.GetValue<string>());
        Assert.Equal("batch-lib", skewed["context"]!["library"]!["name"]!.GetValue<string>());
        Assert.Equal("203.0.113.9", skewed["context"]!["ip"]!.GetValue<string>()); // the client's ip wins over the request's
        Assert.Equal("198.51.100.7", queued["own"]["context"]!["ip"]!.GetValue<string>()); // the call's own context wins
        Assert.Equal("batch-lib", queued["own"]["context"]!["library"]!["name"]!.GetValue<string>());
    }

    public static TheoryData<string, string, string> BadCalls => new()
    {
        { "/v1/track", """{ "userId": "u", "event": "x" """, "not valid JSON" },
        { "/v1/track", """[ { "userId": "u", "event": "x" } ]""", "must be an object" },
        { "/v1/track", """{ "event": "x" }""", "userId" },
        { "/v1/track", """{ "userId": "u" }""", "event" },
        { "/v1/track", """{ "userId": "u", "event": "   " }""", "event" },
        { "/v1/track", """{ "userId": 42, "event": "x" }""", "userId" },
        { "/v1/track", """{ "type": "identify", "userId": "u" }""", "type" },
        { "/v1/group", """{ "userId": "u" }""", "groupId" },
        { "/v1/alias", """{ "userId": "u" }""", "previousId" },
        { "/v1/track", """{ "userId": "u", "event": "x", "timestamp": "yesterday" }""", "timestamp" },
        { "/v1/track", """{ "userId": "u", "event": "x", "timestamp": "2001-01-01T00:00:00Z" }""", "older" },
        { "/v1/track", """{ "userId": "u", "event": "x", "properties": { "n": 1e200 } }""", "properties" },
        { "/v1/identify", """{ "userId": "u", "traits": [ 1 ] }""", "traits" },
        { "/v1/track", """{ "userId": "u", "event": "x", "custom": { "": 1 } }""", "custom" },
        { "/v1/batch", """{ "batch": [] }""", "batch" },
        { "/v1/batch", """{ "batch": [ { "type": "track", "userId": "u", "event": "ok" }, { "type": "track", "userId": "u" } ] }""", "batch[1].event" },
        { "/v1/batch", """{ "batch": [ { "type": "track", "userId": "u", "event": "ok" }, 7 ] }""", "batch[1]" },
        { "/v1/batch", """{ "batch": [ { "type": "purchase", "userId": "u" } ] }""", "batch[0].type" },
    };

    [Theory]
    [MemberData(nameof(BadCalls))]
    public async Task A_bad_call_or_batch_is_a_400_problem_naming_the_field_and_queues_nothing(string path, string body, string named)
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = BasicClient(app, app.ApiKey);

        var response = await client.PostAsync(path, Json(body, "text/plain"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(named, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(await QueuedAsync(app));
    }

    [Fact]
    public async Task Sizes_are_limited_to_32_KB_a_call_and_512_KiB_a_batch_even_inflated_from_gzip()
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = BasicClient(app, app.ApiKey);
        var big = new string('x', 33 * 1024);
        var manySmall = string.Join(',', Enumerable.Repeat($$"""{ "type": "track", "userId": "u", "event": "e", "properties": { "p": "{{new string('y', 20_000)}}" } }""", 27));

        var call = await client.PostAsync("/v1/track", Json($$"""{ "userId": "u", "event": "x", "properties": { "p": "{{big}}" } }"""));
        var callInBatch = await client.PostAsync("/v1/batch", Json($$"""{ "batch": [ { "type": "track", "userId": "u", "event": "x", "properties": { "p": "{{big}}" } } ] }"""));
        var batch = await client.PostAsync("/v1/batch", Json($$"""{ "batch": [ {{manySmall}} ] }"""));
        var bomb = await client.PostAsync("/v1/batch", Gzip(Encoding.UTF8.GetBytes($$"""{ "batch": [ {{manySmall}} ] }""")));
        var gzipOk = await client.PostAsync("/v1/track", Gzip(Encoding.UTF8.GetBytes("""{ "userId": "u", "event": "Gzipped" }""")));

        Assert.All([call, batch, bomb], r => Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode));
        Assert.Contains("larger than", await bomb.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, callInBatch.StatusCode);
        Assert.Contains("batch[0]", await callInBatch.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, gzipOk.StatusCode);
        Assert.Equal("Gzipped", Assert.Single(await QueuedAsync(app))["eventType"]!.GetValue<string>());
    }

    private static ByteArrayContent Gzip(byte[] body)
    {
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Optimal))
        {
            gzip.Write(body);
        }
        var content = new ByteArrayContent(compressed.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        content.Headers.ContentEncoding.Add("gzip");
        return content;
    }

    [Fact]
    public async Task Browsers_of_the_allowed_origins_may_call_the_tracking_endpoints_and_see_every_answer()
    {
        await using var app = await ApiApplication.StartAsync(s => s["Tracking:AllowedOrigins"] = "https://shop.example, https://www.shop.example");
        using var client = app.CreateClient();

        var preflight = await client.SendAsync(Preflight("/v1/t", "https://shop.example"));
        var otherOrigin = await client.SendAsync(Preflight("/v1/t", "https://evil.example"));
        var eventsPreflight = await client.SendAsync(Preflight("/events", "https://shop.example"));
        var unauthorized = await client.SendAsync(Post("/v1/t", "https://www.shop.example", """{ "userId": "u", "event": "x" }"""));
        var bad = await client.SendAsync(Post("/v1/t", "https://shop.example", $$"""{ "writeKey": "{{app.ApiKey}}", "event": "x" }"""));
        var ok = await client.SendAsync(Post("/v1/t", "https://shop.example", $$"""{ "writeKey": "{{app.ApiKey}}", "userId": "u", "event": "x" }"""));

        Assert.True(preflight.IsSuccessStatusCode);
        Assert.Equal("https://shop.example", preflight.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("POST", preflight.Headers.GetValues("Access-Control-Allow-Methods").Single(), StringComparison.Ordinal);
        Assert.Contains("authorization", preflight.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.OrdinalIgnoreCase);
        Assert.False(otherOrigin.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.False(eventsPreflight.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        foreach (var (response, origin) in new[] { (unauthorized, "https://www.shop.example"), (bad, "https://shop.example"), (ok, "https://shop.example") })
        {
            Assert.Equal(origin, response.Headers.GetValues("Access-Control-Allow-Origin").Single());
            Assert.Contains("Retry-After", response.Headers.GetValues("Access-Control-Expose-Headers").Single(), StringComparison.OrdinalIgnoreCase);
        }
    }

    private static HttpRequestMessage Preflight(string path, string origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        return request;
    }

    private static HttpRequestMessage Post(string path, string origin, string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(body, "text/plain") };
        request.Headers.Add("Origin", origin);
        return request;
    }

    [Fact]
    public async Task A_queue_failure_is_a_503_with_retry_after_for_the_whole_request()
    {
        await using var app = await ApiApplication.StartAsync(s => s["AWS:SQS:ServiceURL"] = "http://127.0.0.1:9/");
        using var client = BasicClient(app, app.ApiKey);

        var single = await client.PostAsync("/v1/track", Json("""{ "userId": "u", "event": "x" }"""));
        var batch = await client.PostAsync("/v1/batch", Json("""{ "batch": [ { "type": "track", "userId": "u", "event": "x" }, { "type": "page", "userId": "u" } ] }"""));

        Assert.All([single, batch], r =>
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
            Assert.NotNull(r.Headers.RetryAfter);
        });
    }

    [Fact]
    public async Task The_swagger_document_describes_each_tracking_call_with_an_example()
    {
        await using var app = await ApiApplication.StartAsync();
        using var client = app.CreateClient();

        var document = JsonNode.Parse(await client.GetStringAsync("/swagger/v1/swagger.json"))!;

        foreach (var call in new[] { "track", "identify", "page", "screen", "group", "alias", "batch" })
        {
            var post = document["paths"]![$"/v1/{call}"]?["post"];
            Assert.NotNull(post);
            Assert.NotNull(post["requestBody"]!["content"]!["text/plain"]);
            var example = post["requestBody"]!["content"]!["application/json"]!["example"];
            Assert.NotNull(example);
            Assert.Equal(call == "batch" ? null : call, example["type"]?.GetValue<string>());
        }
        Assert.Null(document["paths"]!["/v1/t"]);
    }
}
