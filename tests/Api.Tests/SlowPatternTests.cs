using System.Diagnostics;
using System.Text.Json;
using Pipeline.Api.Plans;
using Pipeline.Plans;

namespace Pipeline.Api.Tests;

/// <summary>
/// A plan's regular expressions cost bounded time whatever a client sends (docs/tracking-plan.md): each match stops
/// after <see cref="PlanBudget.MatchTimeout"/>, an event's checks after <see cref="PlanBudget.PerEvent"/>, a request's
/// after <see cref="PlanBudget.PerRequest"/>, and a match that runs out is a violation naming its rule. Without the
/// bounds each case below runs for minutes (or, for the regex format, runs out of memory).
/// </summary>
public sealed class SlowPatternTests
{
    // The stated bounds (docs/tracking-plan.md), asserted with 300 ms of slack for this 2-core machine.
    private static readonly TimeSpan Slack = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan EventBound = PlanBudget.PerEvent + PlanBudget.MatchTimeout + (3 * PlanBudget.PropertyNames) + Slack;
    private static readonly TimeSpan RequestBound = PlanBudget.PerRequest + EventBound;
    private static readonly TimeSpan Bound = EventBound;

    // Catastrophic families, each with a value it backtracks on exponentially (from a few seconds to hours unbounded).
    public static TheoryData<string, string> Families => new()
    {
        { "^(a+)+$", new string('a', 34) + "!" },
        { @"^(\w+\s?)*$", new string('a', 34) + "!" },
        { "(a|aa)+$", new string('a', 60) + "!" },
        { @"^([a-zA-Z0-9])(([\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$", new string('a', 40) + "!" },
    };

    [Theory]
    [MemberData(nameof(Families))]
    public void A_value_a_pattern_backtracks_on_is_a_violation_of_that_rule_within_the_bound(string pattern, string value)
    {
        var plan = TrackingPlan.Parse(Plan("block", $$"""{ "type": "object", "properties": { "id": { "type": "string", "pattern": {{JsonSerializer.Serialize(pattern)}} } } }"""));
        var properties = JsonDocument.Parse(JsonSerializer.Serialize(new { id = value })).RootElement;
        Warm(plan, """{"id":"!"}""");

        var clock = Stopwatch.StartNew();
        var verdict = plan.Evaluate("signup", properties, null);

        Assert.True(clock.Elapsed < Bound, $"{clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.True(verdict.Blocked);
        var violation = Assert.Single(verdict.Violations);
        Assert.Equal("properties.id", violation.Path);
        Assert.StartsWith("pattern: ", violation.Message, StringComparison.Ordinal);
        // The match stops at its timeout; on a loaded machine the event's own budget may run out first: a violation either way.
        Assert.Matches("did not finish within 20 ms|not checked: this event spent it", violation.Message);
    }

    [Fact]
    public void An_event_with_a_hundred_slow_values_is_evaluated_within_the_bound_and_the_rest_are_not_checked()
    {
        var plan = TrackingPlan.Parse(Plan("flag", """{ "type": "object", "additionalProperties": { "type": "string", "pattern": "^(a+)+$" } }"""));
        var properties = JsonDocument.Parse(JsonSerializer.Serialize(Enumerable.Range(0, 100).ToDictionary(i => $"p{i}", _ => new string('a', 34) + "!"))).RootElement;
        Warm(plan, """{"p0":"!"}""");

        var clock = Stopwatch.StartNew();
        var verdict = plan.Evaluate("signup", properties, null);

        Assert.True(clock.Elapsed < Bound, $"{clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.False(verdict.Blocked);
        Assert.Contains(verdict.Violations, v => v.Message.Contains("did not finish within 20 ms", StringComparison.Ordinal));
        Assert.Contains(verdict.Violations, v => v.Message.Contains("not checked", StringComparison.Ordinal));
    }

    [Fact]
    public void A_batch_shares_one_budget_so_a_hundred_slow_events_cost_no_more_than_one_request_and_the_rest_go_unchecked()
    {
        var plan = TrackingPlan.Parse(Plan("block", """{ "type": "object", "additionalProperties": { "type": "string", "pattern": "^(a+)+$" } }"""));
        var properties = JsonDocument.Parse(JsonSerializer.Serialize(Enumerable.Range(0, 100).ToDictionary(i => $"p{i}", _ => new string('a', 34) + "!"))).RootElement;
        Warm(plan, """{"p0":"!"}""");
        var budget = PlanBudget.StartNew();

        var clock = Stopwatch.StartNew();
        var verdicts = Enumerable.Range(0, 100).Select(_ => plan.Evaluate("signup", properties, null, budget)).ToList();

        Assert.True(clock.Elapsed < RequestBound, $"{clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.True(verdicts[0].Blocked);
        // Once the request's budget is spent its other events are accepted unchecked, as when no plan can be read.
        Assert.Contains(verdicts, v => v.Unchecked is not null && !v.Failed && !v.Blocked);
        Assert.All(verdicts, v => Assert.True(v.Blocked || v.Unchecked is not null));
    }

    [Fact]
    public void A_slow_event_does_not_block_a_valid_neighbour_in_its_batch()
    {
        var plan = TrackingPlan.Parse("""
            { "mode": "block", "events": {
                "signup": { "properties": { "type": "object", "additionalProperties": { "type": "string", "pattern": "^(a+)+$" } } },
                "order": { "properties": { "type": "object", "required": ["revenue"], "properties": { "revenue": { "type": "number" } } } } } }
            """);
        var slow = JsonDocument.Parse(JsonSerializer.Serialize(Enumerable.Range(0, 100).ToDictionary(i => $"p{i}", _ => new string('a', 34) + "!"))).RootElement;
        var budget = PlanBudget.StartNew();

        foreach (var _ in Enumerable.Range(0, 6))
        {
            plan.Evaluate("signup", slow, null, budget);
        }
        var valid = plan.Evaluate("order", Json("""{"revenue":12}"""), null, budget);

        Assert.False(valid.Blocked);
        Assert.Empty(valid.Violations);
    }

    [Fact]
    public void A_thousand_property_names_a_pattern_property_is_slow_on_cost_one_event_bound()
    {
        var plan = TrackingPlan.Parse(Plan("block", """{ "type": "object", "patternProperties": { "^(a+)+$": { "type": "string" } } }"""));
        // Each name takes a few milliseconds, under the match timeout: only the charge to the event bounds them.
        var properties = JsonDocument.Parse(JsonSerializer.Serialize(Enumerable.Range(0, 1000).ToDictionary(i => new string('a', 17) + "!" + i, _ => "x"))).RootElement;
        Warm(plan, """{"a":1}""");

        var clock = Stopwatch.StartNew();
        var verdict = plan.Evaluate("signup", properties, null);

        Assert.True(clock.Elapsed < Bound, $"{clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.True(verdict.Blocked);
        Assert.StartsWith("patternProperties: ", Assert.Single(verdict.Violations).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Property_names_a_pattern_property_backtracks_on_are_a_violation_within_the_bound()
    {
        var plan = TrackingPlan.Parse(Plan("block", """{ "type": "object", "patternProperties": { "^(a+)+$": { "type": "string" } } }"""));
        var properties = JsonDocument.Parse(JsonSerializer.Serialize(Enumerable.Range(0, 100).ToDictionary(i => new string('a', 30 + (i % 5)) + "!" + i, _ => "x"))).RootElement;
        Warm(plan, """{"a":1}""");

        var clock = Stopwatch.StartNew();
        var verdict = plan.Evaluate("signup", properties, null);

        Assert.True(clock.Elapsed < Bound, $"{clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.True(verdict.Blocked);
        Assert.Contains("patternProperties", Assert.Single(verdict.Violations).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_regex_format_value_nested_deep_is_not_built_and_is_a_violation_at_once()
    {
        var plan = TrackingPlan.Parse(Plan("block", """{ "type": "object", "properties": { "rule": { "type": "string", "format": "regex" } } }"""));
        var nested = string.Concat(Enumerable.Repeat("(", 27)) + "a" + string.Concat(Enumerable.Repeat("){2}", 27));
        Warm(plan, """{"rule":"("}""");

        var clock = Stopwatch.StartNew();
        var verdict = plan.Evaluate("signup", Json(JsonSerializer.Serialize(new { rule = nested })), null);

        Assert.True(clock.Elapsed < Bound, $"{clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.Contains("not checked: a regex", Assert.Single(verdict.Violations).Message, StringComparison.Ordinal);
        Assert.Same(PlanVerdict.Pass, plan.Evaluate("signup", Json("""{"rule":"^[a-z]+$"}"""), null));
    }

    [Theory]
    [InlineData("""{ "$schema": "http://json-schema.org/draft-07/schema#", "pattern": "^a$" }""", "events.signup.properties.$schema", "2020-12")]
    [InlineData("""{ "properties": { "id": { "$id": "https://example.com/x", "type": "string" } } }""", "events.signup.properties.properties.id.$id", "$id")]
    [InlineData("""{ "$defs": { "a": { "allOf": [{ "$ref": "#/$defs/a" }] } }, "$ref": "#/$defs/a" }""", "events.signup.properties", "refers back to itself")]
    [InlineData("""{ "not": { "anyOf": [{ "$ref": "#" }] } }""", "events.signup.properties", "refers back to itself")]
    [InlineData("""{ "$ref": "#/$defs/missing" }""", "events.signup.properties.$ref", "refers to nothing")]
    public void A_schema_that_would_fail_or_escape_the_bounds_at_run_time_is_refused_when_the_plan_is_read(string schema, string path, string problem)
    {
        var error = Assert.Throws<PlanException>(() => TrackingPlan.Parse(Plan("block", schema)));

        Assert.StartsWith(path, error.Path, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_recursive_schema_that_moves_into_the_event_is_accepted_and_evaluated()
    {
        var plan = TrackingPlan.Parse(Plan("block", """
            { "$ref": "#/$defs/node",
              "$defs": { "node": { "type": "object", "properties": { "children": { "type": "array", "items": { "$ref": "#/$defs/node" } } }, "required": ["name"] } } }
            """));

        Assert.Same(PlanVerdict.Pass, plan.Evaluate("signup", Json("""{"name":"a","children":[{"name":"b","children":[]}]}"""), null));
        Assert.True(plan.Evaluate("signup", Json("""{"name":"a","children":[{"children":[]}]}"""), null).Blocked);
    }

    [Fact]
    public void If_then_else_apply_as_in_the_standard_2020_12_dialect()
    {
        var plan = TrackingPlan.Parse(Plan("block", """{ "if": { "required": ["plan"] }, "then": { "required": ["card"] }, "else": { "required": ["trial"] } }"""));

        Assert.True(plan.Evaluate("signup", Json("""{"plan":"pro"}"""), null).Blocked);
        Assert.Same(PlanVerdict.Pass, plan.Evaluate("signup", Json("""{"plan":"pro","card":"x"}"""), null));
        Assert.True(plan.Evaluate("signup", Json("""{}"""), null).Blocked);
        Assert.Same(PlanVerdict.Pass, plan.Evaluate("signup", Json("""{"trial":true}"""), null));
    }

    [Fact]
    public void Ordinary_patterns_and_formats_still_pass_and_fail_as_before()
    {
        var plan = TrackingPlan.Parse(Plan("block", """
            { "type": "object", "properties": { "sku": { "type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$" }, "email": { "format": "email" } },
              "patternProperties": { "^x-": { "type": "integer" } } }
            """));

        Assert.Same(PlanVerdict.Pass, plan.Evaluate("signup", Json("""{"sku":"ABC-1234","email":"a@example.com","x-a":1}"""), null));
        var verdict = plan.Evaluate("signup", Json("""{"sku":"abc","email":"nope","x-a":"1"}"""), null);
        Assert.Equal(["properties.email", "properties.sku", "properties.x-a"], verdict.Violations.Select(v => v.Path).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("^(a+)+$", true)]
    [InlineData(@"^(\w+\s?)*$", true)]
    [InlineData("(a|aa)+$", true)]
    [InlineData(@"^([a-zA-Z0-9_\-\.]+)+@example\.com$", true)]
    [InlineData("^(?:[a-z]{1,3})*$", true)]
    [InlineData("^[a-z0-9-]+$", false)]
    [InlineData(@"^[A-Z]{3}-\d{4}$", false)]
    [InlineData(@"^\(a+\)+$", false)] // escaped parentheses are not a group
    [InlineData("^[(a+)]+$", false)] // nor are they in a class
    [InlineData("^(ab)+$", false)]
    [InlineData("^(a+){2}$", true)]
    [InlineData("^(.*a){12}$", true)]
    [InlineData("^a{3}$", false)]
    [InlineData("^(a+)?$", false)]
    public void Patterns_that_may_backtrack_catastrophically_are_named(string pattern, bool risky)
    {
        Assert.Equal(risky, PatternRisk.Why(pattern) is not null);
    }

    [Fact]
    public void A_plan_warns_of_each_risky_pattern_with_its_path_and_still_parses()
    {
        var plan = TrackingPlan.Parse(Plan("flag", """
            { "type": "object",
              "properties": { "slug": { "type": "string", "pattern": "^(a+)+$" }, "pattern": { "type": "string", "pattern": "^ok$" },
                              "default": { "type": "string", "pattern": "^(b+)+$" } },
              "patternProperties": { "^(x|xx)+$": true },
              "enum": [{ "pattern": "^(a+)+$" }] }
            """));

        Assert.Equal(
            ["events.signup.properties.patternProperties.^(x|xx)+$", "events.signup.properties.properties.default.pattern", "events.signup.properties.properties.slug.pattern"],
            plan.Warnings.Select(w => w.Path).Order(StringComparer.Ordinal));
    }

    // A plan's first evaluation compiles its patterns and the evaluation's code (both modes, for a value that fails):
    // not what the bounds are about, and on a loaded machine a good part of the slack.
    private static void Warm(TrackingPlan plan, string properties) => plan.Evaluate("signup", Json(properties), null);

    private static string Plan(string mode, string properties) => $$"""{ "mode": "{{mode}}", "events": { "signup": { "properties": {{properties}} } } }""";

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;
}
