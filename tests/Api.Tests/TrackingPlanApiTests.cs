using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2.Model;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Api.Plans;
using Pipeline.Plans;

namespace Pipeline.Api.Tests;

/// <summary>The tracking plan as clients meet it, with the plan in the local DynamoDB and the events on the local queue.</summary>
public sealed class TrackingPlanApiTests
{
    // The same rules for /events' order.completed and Segment's "Order Completed" (an /events type has no spaces).
    private static string Plan(string mode) => $$"""
        {
          "mode": "{{mode}}",
          "events": {
            "order.completed": { "properties": {{Order}} },
            "Order Completed": { "properties": {{Order}} }
          }
        }
        """;

    private const string Order = """{ "type": "object", "required": ["revenue"], "properties": { "revenue": { "type": "number" }, "currency": { "enum": ["USD", "EUR"] } } }""";

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static TrackingPlanStore Store(ApiApplication app) => new(app.Aws.DynamoDb, app.Stack["TrackingPlansTable"]);

    [Fact]
    public async Task In_block_mode_events_refuses_a_breaking_event_naming_each_violation_and_queues_nothing()
    {
        await using var app = await ApiApplication.StartAsync();
        await Store(app).SetAsync(Plan("block"), CancellationToken.None);
        using var client = app.CreateKeyedClient();

        var events = new Uri("/events", UriKind.Relative);
        using var refused = await client.PostAsync(events, Json("""{"eventType":"order.completed","userId":"u","properties":{"revenue":"12","currency":"GBP"}}"""));
        using var passed = await client.PostAsync(events, Json("""{"eventType":"order.completed","userId":"u","properties":{"revenue":12,"currency":"EUR"}}"""));

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var errors = (await refused.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsObject();
        Assert.Contains("type", errors["properties.revenue"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("enum", errors["properties.currency"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Accepted, passed.StatusCode);
        var queued = Assert.Single(await app.DrainEventsAsync(waitSeconds: 0));
        Assert.Equal("passed", queued["plan"]!["status"]!.GetValue<string>());
        Assert.Equal(1, queued["plan"]!["version"]!.GetValue<int>());
    }

    [Fact]
    public async Task In_block_mode_a_batch_refuses_each_breaking_item_and_accepts_the_others()
    {
        await using var app = await ApiApplication.StartAsync();
        await Store(app).SetAsync(Plan("block"), CancellationToken.None);
        using var client = app.CreateKeyedClient();

        using var answer = await client.PostAsync(new Uri("/events/batch", UriKind.Relative), Json("""
            {"events":[
              {"eventType":"order.completed","userId":"u","properties":{"revenue":1}},
              {"eventType":"order.completed","userId":"u","properties":{}},
              {"eventType":"page_view","userId":"u"}
            ]}
            """));

        Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
        var items = (await answer.Content.ReadFromJsonAsync<JsonObject>())!["items"]!.AsArray();
        Assert.Equal(["accepted", "invalid", "accepted"], items.Select(i => i!["status"]!.GetValue<string>()));
        Assert.Contains("revenue", items[1]!["errors"]!["properties"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(2, (await app.DrainEventsAsync(waitSeconds: 0)).Count);
    }

    [Fact]
    public async Task In_flag_mode_a_breaking_event_is_accepted_and_queued_with_its_violations_and_the_plans_version()
    {
        await using var app = await ApiApplication.StartAsync();
        await Store(app).SetAsync(Plan("flag"), CancellationToken.None);
        using var client = app.CreateKeyedClient();

        using var answer = await client.PostAsync(new Uri("/events", UriKind.Relative), Json("""{"eventType":"order.completed","userId":"u","properties":{"revenue":"12"}}"""));

        Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
        var plan = Assert.Single(await app.DrainEventsAsync(waitSeconds: 0))["plan"]!;
        Assert.Equal("flagged", plan["status"]!.GetValue<string>());
        Assert.Equal(1, plan["version"]!.GetValue<int>());
        Assert.Equal(1, plan["violationCount"]!.GetValue<int>());
        Assert.Equal("properties.revenue", plan["violations"]![0]!["path"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_segment_call_the_plan_blocks_is_answered_200_with_the_batch_and_queued_marked_blocked()
    {
        await using var app = await ApiApplication.StartAsync();
        await Store(app).SetAsync(Plan("block"), CancellationToken.None);
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(app.ApiKey + ":")));

        using var answer = await client.PostAsync(new Uri("/v1/batch", UriKind.Relative), Json("""
            {"batch":[
              {"type":"track","userId":"u","event":"Order Completed","messageId":"ok","properties":{"revenue":3}},
              {"type":"track","userId":"u","event":"Order Completed","messageId":"bad","properties":{"revenue":"3"}}
            ]}
            """));

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode); // the libraries drop a whole batch on a 400
        var queued = (await app.DrainEventsAsync(waitSeconds: 0)).ToDictionary(e => e["messageId"]!.GetValue<string>());
        Assert.Equal("passed", queued["ok"]["plan"]!["status"]!.GetValue<string>());
        Assert.Equal("blocked", queued["bad"]["plan"]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_api_that_cannot_read_the_plan_accepts_events_marked_unchecked()
    {
        await using var app = await ApiApplication.StartAsync(s => s["Plans:TableName"] = "no-such-table");
        using var client = app.CreateKeyedClient();

        using var answer = await client.PostAsync(new Uri("/events", UriKind.Relative), Json("""{"eventType":"order.completed","userId":"u","properties":{"revenue":"x"}}"""));

        Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
        var plan = Assert.Single(await app.DrainEventsAsync(waitSeconds: 0))["plan"]!;
        Assert.Equal("unchecked", plan["status"]!.GetValue<string>());
        Assert.Null(plan["version"]);
    }

    [Fact]
    public async Task A_new_plan_applies_within_the_refresh_time_and_an_unreadable_one_leaves_the_last_good_plan_in_force()
    {
        var clock = new ShiftedClock();
        await using var app = await ApiApplication.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        var store = Store(app);
        await store.SetAsync(Plan("flag"), CancellationToken.None);
        using var client = app.CreateKeyedClient();
        async Task<JsonNode> PlanOfNextEventAsync()
        {
            using var answer = await client.PostAsync(new Uri("/events", UriKind.Relative), Json("""{"eventType":"order.completed","userId":"u","properties":{"revenue":1}}"""));
            Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
            return Assert.Single(await app.DrainEventsAsync(waitSeconds: 0))["plan"]!;
        }

        Assert.Equal(1, (await PlanOfNextEventAsync())["version"]!.GetValue<int>());
        await store.SetAsync(Plan("block"), CancellationToken.None);
        Assert.Equal(1, (await PlanOfNextEventAsync())["version"]!.GetValue<int>()); // read less than 30 s ago
        clock.Shift += TimeSpan.FromSeconds(31);
        Assert.Equal(2, (await PlanOfNextEventAsync())["version"]!.GetValue<int>());

        // A plan this Api cannot use (written around the store's checks): version 2 stays in force.
        await app.Aws.DynamoDb.UpdateItemAsync(new UpdateItemRequest
        {
            TableName = app.Stack["TrackingPlansTable"],
            Key = new() { ["plan"] = new() { S = "current" } },
            UpdateExpression = "SET #version = :v, #document = :d",
            ExpressionAttributeNames = new() { ["#version"] = "version", ["#document"] = "document" },
            ExpressionAttributeValues = new() { [":v"] = new() { N = "3" }, [":d"] = new() { B = new MemoryStream("not gzip"u8.ToArray()) } },
        });
        clock.Shift += TimeSpan.FromSeconds(31);
        Assert.Equal(2, (await PlanOfNextEventAsync())["version"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_plan_that_cannot_be_used_is_refused_when_it_is_set_and_changes_nothing()
    {
        await using var app = await ApiApplication.StartAsync();
        var store = Store(app);

        var error = await Assert.ThrowsAsync<PlanException>(() => store.SetAsync("""{"events":{"a":{"properties":{"type":"numbr"}}}}""", CancellationToken.None));

        Assert.Equal("events.a.properties.type", error.Path);
        Assert.Null(await store.GetAsync(CancellationToken.None));
    }
}

/// <summary>The system clock, moved on by <see cref="Shift"/>: the plan's refresh time passes without waiting for it.</summary>
internal sealed class ShiftedClock : TimeProvider
{
    public TimeSpan Shift { get; set; }

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Shift;
}
