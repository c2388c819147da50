using System.CommandLine;
using System.Globalization;
using Pipeline.Archive;
using Pipeline.Cli;
using Pipeline.Plans;
using Pipeline.Storage;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>plan set|show|check</c>: the deployment's tracking plan (docs/tracking-plan.md), in its tracking-plans table, of
/// the local environment by default or of a deployed stack with <c>--profile</c>/<c>--region</c>.
/// </summary>
public static class PlanCommand
{
    /// <summary>The command and its subcommands.</summary>
    public static Command Create()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "the plan: a JSON document (docs/tracking-plan.md)" };
        file.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<FileInfo>() is { Exists: false } missing)
            {
                r.AddError($"No file {missing.FullName}.");
            }
        });

        var set = new Command("set", "check a plan and make it the stack's; the Api applies it within 30 s") { file };
        StackTarget.AddOptions(set, Services.DynamoDb);
        set.SetAction(async (r, ct) =>
        {
            var target = new StackTarget(r);
            using var dynamoDb = target.DynamoDb();
            var table = (await target.ResourcesAsync(ct)).TrackingPlansTable;
            var store = new TrackingPlanStore(dynamoDb, table);
            var path = r.GetRequiredValue(file).FullName;
            try
            {
                var document = await File.ReadAllTextAsync(path, ct);
                var plan = await store.SetAsync(document, ct);
                await r.InvocationConfiguration.Output.WriteLineAsync($"Tracking plan version {plan.Version} set in {table}; the Api applies it within 30 s.");
                await WarnAsync(r.InvocationConfiguration.Output, path, TrackingPlan.Parse(document));
                return 0;
            }
            catch (PlanException e)
            {
                await r.InvocationConfiguration.Error.WriteLineAsync($"{path}: {e.Message}. Nothing was changed.");
                return 2;
            }
        });

        var show = new Command("show", "print the stack's plan, with its version");
        StackTarget.AddOptions(show, Services.DynamoDb);
        show.SetAction(async (r, ct) =>
        {
            var target = new StackTarget(r);
            using var dynamoDb = target.DynamoDb();
            var output = r.InvocationConfiguration.Output;
            var table = (await target.ResourcesAsync(ct)).TrackingPlansTable;
            if (await new TrackingPlanStore(dynamoDb, table).GetAsync(ct) is not { } plan)
            {
                await output.WriteLineAsync($"No tracking plan is set in {table}: events are accepted as they are.");
                return 0;
            }
            // The document alone on stdout, so `plan show > plan.json` gives a file `plan set` takes back.
            await r.InvocationConfiguration.Error.WriteLineAsync($"Tracking plan version {plan.Version}, set {plan.SetAt:yyyy-MM-dd HH:mm:ss} UTC:");
            await output.WriteLineAsync(plan.Document);
            return 0;
        });

        var from = TypedOptions.Time("--from", "evaluate the events received from this time (default an hour before --to)");
        var to = TypedOptions.Time("--to", "... up to this time (default now)");
        var check = new Command("check", "check a plan, and say what it would do to the archive's last hour of events, by type and rule, changing nothing") { file, from, to };
        TypedOptions.RequireOrder(check, from, to);
        StackTarget.AddOptions(check, Services.S3);
        check.SetAction(async (r, ct) =>
        {
            var path = r.GetRequiredValue(file).FullName;
            TrackingPlan plan;
            try
            {
                plan = TrackingPlan.Parse(await File.ReadAllTextAsync(path, ct));
            }
            catch (PlanException e)
            {
                await r.InvocationConfiguration.Error.WriteLineAsync($"{path}: {e.Message}");
                return 2;
            }
            await WarnAsync(r.InvocationConfiguration.Output, path, plan);
            var target = new StackTarget(r);
            var (start, end) = TypedOptions.Range(r, from, to, TimeSpan.FromHours(1));
            using var s3 = target.S3();
            var bucket = await target.BucketAsync(ct);
            var byType = new SortedDictionary<string, (int Events, int Flagged, int Blocked)>(StringComparer.Ordinal);
            var byRule = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var hour in ArchiveReader.Hours(start, end))
            {
                // Each eventId once, streamed: an hour of any volume in bounded memory.
                await foreach (var e in HourEvents.ReadAsync(s3, bucket, hour, after: null, ct))
                {
                    if (e.ReceivedAt < start || e.ReceivedAt >= end)
                    {
                        continue;
                    }
                    var verdict = plan.Evaluate(e.EventType, e.Properties, e.Traits);
                    var (events, flagged, blocked) = byType.GetValueOrDefault(e.EventType);
                    var broken = verdict.Violations.Count > 0;
                    byType[e.EventType] = (events + 1, flagged + (broken && !verdict.Blocked ? 1 : 0), blocked + (verdict.Blocked ? 1 : 0));
                    foreach (var rule in verdict.Violations.Select(v => $"{e.EventType} | {v.Path} | {v.Message.Split(':')[0]}").Distinct())
                    {
                        byRule[rule] = byRule.GetValueOrDefault(rule) + 1;
                    }
                }
            }
            var console = Terminal.For(r.InvocationConfiguration.Output);
            var types = Terminal.Table("event type", "events", "would pass", "flagged", "blocked")
                .Title(Markup.Escape($"received {start:yyyy-MM-dd HH:mm} to {end:yyyy-MM-dd HH:mm} UTC"));
            foreach (var (type, (events, flagged, blocked)) in byType)
            {
                types.AddRow(Markup.Escape(type), N(events), N(events - flagged - blocked), N(flagged), N(blocked));
            }
            console.Write(types);
            var rules = Terminal.Table("event type", "field", "rule", "events");
            foreach (var (rule, count) in byRule.OrderByDescending(r => r.Value).Take(20))
            {
                var parts = rule.Split(" | ");
                rules.AddRow(Markup.Escape(parts[0]), Markup.Escape(parts[1]), Markup.Escape(parts[2]), N(count));
            }
            console.Write(byRule.Count == 0 ? new Text("No event breaks the plan.\n") : rules);
            return 0;
        });

        var inferFrom = TypedOptions.Time("--from", "infer from the events received from this time (default a day before --to)");
        var inferTo = TypedOptions.Time("--to", "... up to this time (default now)");
        var output = new Option<FileInfo?>("--output") { Description = "write the plan to this file (default: print it)", HelpName = "FILE" };
        var infer = new Command("infer", "write a starting plan from the archive: each event type, its properties' JSON types, required where always present")
        {
            inferFrom, inferTo, output,
        };
        TypedOptions.RequireOrder(infer, inferFrom, inferTo);
        StackTarget.AddOptions(infer, Services.S3);
        infer.SetAction(async (r, ct) =>
        {
            var target = new StackTarget(r);
            var (start, end) = TypedOptions.Range(r, inferFrom, inferTo, TimeSpan.FromDays(1));
            using var s3 = target.S3();
            var plan = await PlanInference.InferAsync(s3, await target.BucketAsync(ct), start, end, r.InvocationConfiguration.Error, ct);
            if (r.GetValue(output) is { } file)
            {
                await File.WriteAllTextAsync(file.FullName, plan, ct);
                await r.InvocationConfiguration.Error.WriteLineAsync($"Wrote {file.FullName}; check it with: plan check {file.Name}");
            }
            else
            {
                await r.InvocationConfiguration.Output.WriteLineAsync(plan);
            }
            return 0;
        });

        return new Command("plan", "the tracking plan: set, show, check a plan against the archive, infer one from it (plan COMMAND --help)") { set, show, check, infer };
    }

    // Patterns that may backtrack catastrophically: the Api stops each match after its timeout, as a violation.
    private static async Task WarnAsync(TextWriter output, string path, TrackingPlan plan)
    {
        foreach (var warning in plan.Warnings)
        {
            await output.WriteLineAsync($"warning: {path}: {warning.Path}: {warning.Message}. The Api stops a match after "
                + $"{PlanBudget.MatchTimeout.TotalMilliseconds:0} ms and counts it as a violation; a pattern without nested repetition avoids that.");
        }
    }


    private static string N(int value) => value.ToString(CultureInfo.InvariantCulture);
}
