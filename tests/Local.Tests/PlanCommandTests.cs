using System.Text.Json;
using System.Text.RegularExpressions;
using Pipeline.Events;
using Pipeline.Tests;

namespace Pipeline.Local.Tests;

public sealed class PlanCommandTests
{
    private const string Plan = """
        {
          "mode": "block",
          "events": {
            "order.completed": { "properties": { "type": "object", "required": ["revenue"], "properties": { "revenue": { "type": "number" } } } },
            "page_view": { "mode": "flag", "properties": { "type": "object", "required": ["path"] } }
          }
        }
        """;

    [Fact]
    public async Task A_plan_is_set_shown_and_checked_against_the_archives_last_hour_and_a_broken_one_is_refused()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        string[] Local(params string[] args) => [.. args, "--stack", stack.StackName, "--endpoint", aws.Endpoints.DynamoDb.ToString()];
        var file = Path.Combine(Path.GetTempPath(), $"plan-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, Plan);
        var broken = file + ".broken.json";
        await File.WriteAllTextAsync(broken, """{"events":{"a":{"properties":{"type":"numbr"}}}}""");

        using var set = new StringWriter();
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(Local("plan", "set", file), set, CancellationToken.None));
        Assert.Contains("version 1 set", set.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, await Pipeline.Cli.CliCommands.RunAsync(Local("plan", "set", broken), TextWriter.Null, CancellationToken.None));
        using var shown = new StringWriter();
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(Local("plan", "show"), shown, CancellationToken.None));
        Assert.Equal(Plan, shown.ToString().TrimEnd('\n')); // the broken plan changed nothing

        // The last hour's archive: 3 orders (1 without revenue), 2 page views (1 without path), 1 unplanned type.
        var now = DateTimeOffset.UtcNow.AddMinutes(-10);
        QueuedEvent Event(string type, string properties) => Received(now, type, properties);
        var archive = new Pipeline.Processor.EventArchive(aws.S3, stack["ArchiveBucket"], TimeSpan.FromHours(2), TimeProvider.System);
        QueuedEvent[] hour = [Event("order.completed", """{"revenue":1}"""), Event("order.completed", """{"revenue":2}"""), Event("order.completed", "{}"),
            Event("page_view", """{"path":"/"}"""), Event("page_view", "{}"), Event("signup", "{}")];
        await archive.WriteAsync(hour, DateTimeOffset.UtcNow, CancellationToken.None);
        await archive.WriteAsync([hour[2], hour[4]], DateTimeOffset.UtcNow, CancellationToken.None); // archived twice (a batch redelivered with others): counted once
        using var checkedOutput = new StringWriter();
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(
            ["plan", "check", file, "--stack", stack.StackName, "--fauxqs", aws.Endpoints.Fauxqs.ToString()], checkedOutput, CancellationToken.None));

        var text = checkedOutput.ToString();
        Assert.Matches(Row("order.completed", "3", "2", "0", "1"), text);
        Assert.Matches(Row("page_view", "2", "1", "1", "0"), text);
        Assert.Matches(Row("signup", "1", "1", "0", "0"), text); // unplanned types are allowed by default
        Assert.Matches(Row("order.completed", "properties", "required", "1"), text);
    }

    [Fact]
    public async Task Plan_set_and_plan_check_warn_of_a_pattern_that_may_backtrack_catastrophically_naming_its_path()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var file = Path.Combine(Path.GetTempPath(), $"plan-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, """
            { "events": { "signup": { "properties": { "type": "object",
              "properties": { "slug": { "type": "string", "pattern": "^([a-z]+-?)+$" }, "sku": { "pattern": "^[A-Z]{3}$" } } } } } }
            """);

        using var set = new StringWriter();
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(
            ["plan", "set", file, "--stack", stack.StackName, "--endpoint", aws.Endpoints.DynamoDb.ToString()], set, CancellationToken.None));
        using var check = new StringWriter();
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(
            ["plan", "check", file, "--stack", stack.StackName, "--fauxqs", aws.Endpoints.Fauxqs.ToString()], check, CancellationToken.None));

        foreach (var output in new[] { set.ToString(), check.ToString() })
        {
            var warning = Assert.Single(output.Split('\n'), l => l.StartsWith("warning:", StringComparison.Ordinal));
            Assert.Contains("events.signup.properties.properties.slug.pattern: '^([a-z]+-?)+$' may backtrack catastrophically", warning, StringComparison.Ordinal);
        }
        Assert.Contains("version 1 set", set.ToString(), StringComparison.Ordinal); // a warning, not a refusal
    }

    [Fact]
    public async Task Plan_infer_writes_a_plan_that_the_events_it_came_from_pass_with_required_keys_where_always_present()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var at = DateTimeOffset.UtcNow.AddMinutes(-20);
        QueuedEvent Event(string type, string? properties, string? traits = null) => Received(at, type, properties, traits);
        var events = new[]
        {
            Event("order.completed", """{"revenue":12,"currency":"EUR","items":[{"sku":"a"}],"a/b~c":true}"""),
            Event("order.completed", """{"revenue":12.5,"currency":"USD","coupon":null,"a/b~c":false}"""),
            Event("order.completed", """{"revenue":3,"currency":"EUR","meta":{"x":1},"a/b~c":true}"""),
            Event("page_view", """{"path":"/"}"""),
            Event("page_view", null), // no properties: nothing is required of page views
            Event("identify", null, """{"email":"a@example.com","age":30}"""),
        };
        await new Pipeline.Processor.EventArchive(aws.S3, stack["ArchiveBucket"], TimeSpan.FromHours(2), TimeProvider.System)
            .WriteAsync(events, DateTimeOffset.UtcNow, CancellationToken.None);
        var file = Path.Combine(Path.GetTempPath(), $"inferred-{Guid.NewGuid():N}.json");

        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(
            [
                "plan", "infer", "--from", at.AddHours(-1).ToString("O"), "--to", DateTimeOffset.UtcNow.ToString("O"), "--output", file,
                "--stack", stack.StackName, "--fauxqs", aws.Endpoints.Fauxqs.ToString(),
            ],
            TextWriter.Null,
            CancellationToken.None));

        var text = await File.ReadAllTextAsync(file);
        var plan = Pipeline.Plans.TrackingPlan.Parse(text);
        Assert.All(events, e => Assert.Empty(plan.Evaluate(e.EventType, e.Properties, e.Traits).Violations));
        var order = JsonDocument.Parse(text).RootElement.GetProperty("events").GetProperty("order.completed").GetProperty("properties");
        Assert.Equal(["a/b~c", "currency", "revenue"], order.GetProperty("required").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal("number", order.GetProperty("properties").GetProperty("revenue").GetProperty("type").GetString());
        Assert.Equal("array", order.GetProperty("properties").GetProperty("items").GetProperty("type").GetString());
        Assert.Equal("boolean", order.GetProperty("properties").GetProperty("a/b~c").GetProperty("type").GetString());
        var inferred = JsonDocument.Parse(text).RootElement.GetProperty("events");
        Assert.Empty(inferred.GetProperty("page_view").GetProperty("properties").GetProperty("required").EnumerateArray());
        Assert.Equal(["age", "email"], inferred.GetProperty("identify").GetProperty("traits").GetProperty("required").EnumerateArray().Select(r => r.GetString()));
        // An event unlike them breaks it.
        Assert.NotEmpty(plan.Evaluate("order.completed", JsonDocument.Parse("""{"revenue":"12"}""").RootElement, null).Violations);
    }

    // An event received at `at`, as the Api queues it.
    private static QueuedEvent Received(DateTimeOffset at, string type, string? properties, string? traits = null) => new()
    {
        SchemaVersion = QueuedEvent.CurrentSchemaVersion,
        EventId = Guid.NewGuid().ToString(),
        EventType = type,
        UserId = "u",
        OccurredAt = at,
        ReceivedAt = at,
        RequestId = "r",
        Properties = properties is null ? null : JsonDocument.Parse(properties).RootElement,
        Traits = traits is null ? null : JsonDocument.Parse(traits).RootElement,
    };

    private static string Row(params string[] cells) => "│ " + string.Join(@"\s*│ ", cells.Select(Regex.Escape)) + @"\s*│";
}
