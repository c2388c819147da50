using System.Diagnostics;
using System.Text.Json;
using Pipeline.Api.Plans;

namespace Pipeline.Api.Tests;

/// <summary>
/// A plan's regular expressions cost bounded time whatever a client sends (docs/tracking-plan.md): each match stops
/// after <see cref="PlanBudget.MatchTimeout"/>, a request spends at most <see cref="PlanBudget.PerRequest"/> on them,
/// and a match that runs out is a violation naming its rule. Without the bounds each case below runs for minutes.
/// </summary>
public sealed class SlowPatternTests
{
    /// <summary>The stated bound on one event's evaluation: the request's budget, one last match, and slack for this 2-core machine.</summary>
    private static readonly TimeSpan Bound = PlanBudget.PerRequest + PlanBudget.MatchTimeout + TimeSpan.FromMilliseconds(500);

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

        var clock = Stopwatch.StartNew();
        var verdict = plan.Evaluate("signup", properties, null);

        Assert.True(clock.Elapsed < Bound, $"{clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.True(verdict.Blocked);
        var violation = Assert.Single(verdict.Violations);
        Assert.Equal("properties.id", violation.Path);
        Assert.StartsWith("pattern: ", violation.Message, StringComparison.Ordinal);
        Assert.Contains("did not finish within 20 ms", violation.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_event_with_a_hundred_slow_values_is_evaluated_within_the_bound_and_the_rest_are_not_checked()
    {
        var plan = TrackingPlan.Parse(Plan("flag", """{ "type": "object", "additionalProperties": { "type": "string", "pattern": "^(a+)+$" } }"""));
        var properties = JsonDocument.Parse(JsonSerializer.Serialize(Enumerable.Range(0, 100).ToDictionary(i => $"p{i}", _ => new string('a', 34) + "!"))).RootElement;

        var clock = Stopwatch.StartNew();
        var verdict = plan.Evaluate("signup", properties, null);

        Assert.True(clock.Elapsed < Bound, $"{clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.False(verdict.Blocked);
        Assert.Contains(verdict.Violations, v => v.Message.Contains("did not finish within", StringComparison.Ordinal));
        Assert.Contains(verdict.Violations, v => v.Message.Contains("not checked", StringComparison.Ordinal));
    }

    [Fact]
    public void A_batch_shares_one_budget_so_a_hundred_slow_events_cost_no_more_than_one_request()
    {
        var plan = TrackingPlan.Parse(Plan("block", """{ "type": "object", "additionalProperties": { "type": "string", "pattern": "^(a+)+$" } }"""));
        var properties = JsonDocument.Parse(JsonSerializer.Serialize(Enumerable.Range(0, 100).ToDictionary(i => $"p{i}", _ => new string('a', 34) + "!"))).RootElement;
        var budget = PlanBudget.StartNew();

        var clock = Stopwatch.StartNew();
        var verdicts = Enumerable.Range(0, 100).Select(_ => plan.Evaluate("signup", properties, null, budget)).ToList();

        Assert.True(clock.Elapsed < Bound, $"{clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.All(verdicts, v => Assert.True(v.Blocked));
    }

    [Fact]
    public void Property_names_a_pattern_property_backtracks_on_are_a_violation_within_the_bound()
    {
        var plan = TrackingPlan.Parse(Plan("block", """{ "type": "object", "patternProperties": { "^(a+)+$": { "type": "string" } } }"""));
        var properties = JsonDocument.Parse(JsonSerializer.Serialize(Enumerable.Range(0, 100).ToDictionary(i => new string('a', 30 + (i % 5)) + "!" + i, _ => "x"))).RootElement;

        var clock = Stopwatch.StartNew();
        var verdict = plan.Evaluate("signup", properties, null);

        Assert.True(clock.Elapsed < Bound, $"{clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.True(verdict.Blocked);
        Assert.Contains("patternProperties", Assert.Single(verdict.Violations).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_subschema_that_names_another_dialect_is_bounded_too()
    {
        var plan = TrackingPlan.Parse(Plan("block", """
            { "type": "object", "properties": { "id": { "$schema": "http://json-schema.org/draft-07/schema#", "type": "string", "pattern": "^(a+)+$" } } }
            """));
        var properties = JsonDocument.Parse(JsonSerializer.Serialize(new { id = new string('a', 34) + "!" })).RootElement;

        var clock = Stopwatch.StartNew();
        var verdict = plan.Evaluate("signup", properties, null);

        Assert.True(clock.Elapsed < Bound, $"{clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.True(verdict.Blocked);
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
              "properties": { "slug": { "type": "string", "pattern": "^(a+)+$" }, "pattern": { "type": "string", "pattern": "^ok$" } },
              "patternProperties": { "^(x|xx)+$": true },
              "enum": [{ "pattern": "^(a+)+$" }] }
            """));

        Assert.Equal(
            ["events.signup.properties.patternProperties.^(x|xx)+$", "events.signup.properties.properties.slug.pattern"],
            plan.Warnings.Select(w => w.Path).Order(StringComparer.Ordinal));
    }

    private static string Plan(string mode, string properties) => $$"""{ "mode": "{{mode}}", "events": { "signup": { "properties": {{properties}} } } }""";

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;
}
