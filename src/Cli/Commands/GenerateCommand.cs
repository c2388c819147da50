using System.CommandLine;
using Pipeline.Cli;
using Pipeline.Local;

namespace Pipeline.Cli.Commands;

/// <summary><c>generate</c>: realistic load through the public API (see <see cref="LoadGenerator"/>), with a report at the end.</summary>
public static class GenerateCommand
{
    /// <summary>The command.</summary>
    public static Command Create()
    {
        var defaults = new LoadOptions();
        var rate = new Option<int>("--rate") { Description = "events a second", HelpName = "N", Required = true };
        rate.Validators.Add(r => AtLeast(r, r.GetValueOrDefault<int>(), 1));
        var duration = new Option<double>("--duration") { Description = "how long to send", HelpName = "SECONDS", Required = true };
        duration.Validators.Add(r => AtLeast(r, r.GetValueOrDefault<double>(), 0.001));
        var batch = new Option<int>("--batch")
        {
            Description = "events a request (1: POST /events; more: /events/batch, up to 100)",
            HelpName = "B",
            DefaultValueFactory = _ => defaults.Batch,
        };
        batch.Validators.Add(r => Between(r, r.GetValueOrDefault<int>(), 1, 100));
        var types = new Option<string[]>("--types")
        {
            Description = "the event types to send (comma-separated)",
            HelpName = "a,b,c",
            DefaultValueFactory = _ => [.. defaults.Types],
        };
        types.CustomParser = r => r.Tokens[0].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var duplicates = new Option<double>("--duplicates")
        {
            Description = "the share of events sent twice",
            HelpName = "0.05",
            DefaultValueFactory = _ => defaults.DuplicateShare,
        };
        duplicates.Validators.Add(r => Between(r, r.GetValueOrDefault<double>(), 0, 1));
        var invalid = new Option<double>("--invalid")
        {
            Description = "the share of events the API must refuse",
            HelpName = "0.05",
            DefaultValueFactory = _ => defaults.InvalidShare,
        };
        invalid.Validators.Add(r => Between(r, r.GetValueOrDefault<double>(), 0, 1));
        var url = TypedOptions.Url("--url", "the API (a deployed stack's ApiUrl output)", LocalEndpoints.Api);
        var key = new Option<string?>("--key")
        {
            Description = "the API key (default PIPELINE_API_KEY)",
            HelpName = "KEY",
            DefaultValueFactory = _ => System.Environment.GetEnvironmentVariable("PIPELINE_API_KEY"),
        };
        var seed = new Option<int?>("--seed") { Description = "the random seed, to send the same events again", HelpName = "N" };

        var command = new Command("generate", """
            send realistic events through the API, honouring 503 + Retry-After; then report what was sent, accepted
            and refused, and the latency percentiles
            """)
        {
            rate, duration, batch, types, duplicates, invalid, url, key, seed,
        };
        command.Validators.Add(r =>
        {
            if (string.IsNullOrEmpty(r.GetValue(key)))
            {
                r.AddError("generate needs an API key: --key, or PIPELINE_API_KEY.");
            }
        });
        command.SetAction(async (r, ct) =>
        {
            var load = new LoadOptions
            {
                Rate = r.GetValue(rate),
                Duration = TimeSpan.FromSeconds(r.GetValue(duration)),
                Batch = r.GetValue(batch),
                Types = r.GetRequiredValue(types),
                DuplicateShare = r.GetValue(duplicates),
                InvalidShare = r.GetValue(invalid),
                Seed = r.GetValue(seed) ?? System.Environment.TickCount,
            };
            using var generator = new LoadGenerator(r.GetValue(url)!, r.GetValue(key)!, load);
            var output = r.InvocationConfiguration.Output;
            var report = await Terminal.ProgressAsync(output, "Sending", progress => generator.RunAsync(progress, ct));
            await output.WriteLineAsync(report.ToString());
            return 0;
        });
        return command;
    }

    private static void AtLeast(System.CommandLine.Parsing.OptionResult result, double value, double minimum)
    {
        if (value < minimum)
        {
            result.AddError($"{result.Option.Name} must be at least {minimum}.");
        }
    }

    private static void Between(System.CommandLine.Parsing.OptionResult result, double value, double minimum, double maximum)
    {
        if (value < minimum || value > maximum)
        {
            result.AddError($"{result.Option.Name} must be between {minimum} and {maximum}.");
        }
    }
}
