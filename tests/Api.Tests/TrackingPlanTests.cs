using System.Text.Json;
using Pipeline.Api.Plans;
using Pipeline.Events;
using Pipeline.Plans;

namespace Pipeline.Api.Tests;

public sealed class TrackingPlanTests
{
    private const string Plan = """
        {
          "mode": "flag",
          "unplanned": "block",
          "events": {
            "Order Completed": {
              "mode": "block",
              "properties": {
                "type": "object",
                "required": ["revenue", "currency"],
                "properties": {
                  "revenue": { "type": "number", "minimum": 0 },
                  "currency": { "enum": ["USD", "EUR"] },
                  "email": { "type": "string", "format": "email" },
                  "items": { "type": "array", "items": { "type": "object", "properties": { "sku": { "type": "string" } } } }
                }
              }
            },
            "identify": { "traits": { "type": "object", "required": ["email"] } },
            "page_view": {}
          }
        }
        """;

    [Fact]
    public void An_event_that_follows_its_schema_passes()
    {
        var verdict = TrackingPlan.Parse(Plan).Evaluate("Order Completed", Json("""{"revenue":12.5,"currency":"EUR","email":"a@example.com","items":[{"sku":"s-1"}]}"""), null);

        Assert.Same(PlanVerdict.Pass, verdict);
    }

    [Fact]
    public void Each_violation_names_its_field_and_the_type_mode_decides_blocking()
    {
        var verdict = TrackingPlan.Parse(Plan).Evaluate("Order Completed", Json("""{"revenue":"12","email":"nope","items":[{"sku":1}]}"""), null);

        Assert.True(verdict.Blocked); // the type's own mode, over the plan's flag
        Assert.Contains(verdict.Violations, v => v.Path == "properties" && v.Message.Contains("currency", StringComparison.Ordinal)); // required
        Assert.Contains(verdict.Violations, v => v.Path == "properties.revenue" && v.Message.StartsWith("type:", StringComparison.Ordinal));
        Assert.Contains(verdict.Violations, v => v.Path == "properties.email" && v.Message.StartsWith("format:", StringComparison.Ordinal));
        Assert.Contains(verdict.Violations, v => v.Path == "properties.items[0].sku");
    }

    [Fact]
    public void Traits_are_checked_for_identify_and_a_missing_object_is_an_empty_one()
    {
        var verdict = TrackingPlan.Parse(Plan).Evaluate("identify", null, null);

        Assert.False(verdict.Blocked); // the plan's mode: flag
        Assert.Equal("traits", Assert.Single(verdict.Violations).Path);
    }

    [Theory]
    [InlineData("block", true)]
    [InlineData("flag", false)]
    public void An_unplanned_type_is_refused_or_flagged_as_the_plan_says(string unplanned, bool blocked)
    {
        var plan = TrackingPlan.Parse(Plan.Replace("\"unplanned\": \"block\"", $"\"unplanned\": \"{unplanned}\"", StringComparison.Ordinal));

        var verdict = plan.Evaluate("Something Else", null, null);

        Assert.Equal(blocked, verdict.Blocked);
        Assert.Equal("eventType", Assert.Single(verdict.Violations).Path);
    }

    [Fact]
    public void With_unplanned_allow_an_unknown_type_passes()
    {
        var plan = TrackingPlan.Parse("""{"events":{"a":{}}}""");

        Assert.Same(PlanVerdict.Pass, plan.Evaluate("b", null, null));
        Assert.Equal((PlanMode.Flag, UnplannedMode.Allow), (plan.Mode, plan.Unplanned)); // the defaults
    }

    [Theory]
    [InlineData("[]", "$")]
    [InlineData("{\"events\":{}, \"mode\":\"strict\"}", "mode")]
    [InlineData("{\"events\":{}, \"extra\":1}", "extra")]
    [InlineData("{}", "events")]
    [InlineData("{\"events\":{\"a\":{\"properties\":{\"type\":\"numbr\"}}}}", "events.a.properties.type")]
    [InlineData("{\"events\":{\"a\":{\"properties\":{\"minimum\":\"x\"}}}}", "events.a.properties.minimum")]
    [InlineData("{\"events\":{\"a\":{\"properties\":{\"$ref\":\"https://example.com/s.json\"}}}}", "events.a.properties")]
    [InlineData("{\"events\":{\"a\":{\"properties\":7}}}", "events.a.properties")]
    [InlineData("{\"events\":{\"a\":{\"mode\":\"block\",\"props\":{}}}}", "events.a.props")]
    public void A_plan_that_cannot_be_used_is_refused_naming_the_path_of_the_problem(string json, string path)
    {
        var error = Assert.Throws<PlanException>(() => TrackingPlan.Parse(json));

        Assert.Equal(path, error.Path);
    }

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;
}
