using System.Globalization;

namespace Pipeline.Local;

/// <summary><c>generate</c>: realistic load through the public API (see <see cref="LoadGenerator"/>), with a report at the end.</summary>
public static class GenerateCommand
{
    internal const string Usage = """
          generate --rate N --duration SECONDS [--batch B] [--types a,b,c] [--duplicates 0.05] [--invalid 0.05]
                                      send realistic events through the API, honouring 503 + Retry-After; then report
                                      what was sent, accepted and refused, and the latency percentiles
            options: --url URL (default http://127.0.0.1:5080; a deployed stack's ApiUrl output)
                     --key KEY (default PIPELINE_API_KEY)  --seed N
        """;

    /// <summary>Runs the command; returns the exit code.</summary>
    public static async Task<int> RunAsync(CommandOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        var key = options["key"] ?? System.Environment.GetEnvironmentVariable("PIPELINE_API_KEY");
        if (string.IsNullOrEmpty(key) || !int.TryParse(options["rate"], CultureInfo.InvariantCulture, out var rate) || rate < 1
            || !double.TryParse(options["duration"], CultureInfo.InvariantCulture, out var seconds) || seconds <= 0)
        {
            await Console.Error.WriteLineAsync($"generate needs --rate, --duration and an API key (--key or PIPELINE_API_KEY).\n{Usage}");
            return 2;
        }
        var load = new LoadOptions
        {
            Rate = rate,
            Duration = TimeSpan.FromSeconds(seconds),
            Batch = Math.Clamp(Number(options["batch"], 1), 1, 100),
            Types = options["types"] is { Length: > 0 } types ? types.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : new LoadOptions().Types,
            DuplicateShare = Share(options["duplicates"], 0.05),
            InvalidShare = Share(options["invalid"], 0.05),
            Seed = Number(options["seed"], System.Environment.TickCount),
        };
        using var generator = new LoadGenerator(new Uri(options["url"] ?? "http://127.0.0.1:5080"), key, load);
        // Live progress for a person at a terminal; quiet in CI logs and pipes.
        var live = !Console.IsOutputRedirected && ReferenceEquals(output, Console.Out);
        var report = await generator.RunAsync(live ? line => output.Write($"\r{line}   ") : null, cancellationToken);
        await output.WriteLineAsync((live ? "\r" : "") + report);
        return 0;
    }

    private static int Number(string? text, int fallback) => int.TryParse(text, CultureInfo.InvariantCulture, out var value) ? value : fallback;

    private static double Share(string? text, double fallback) =>
        double.TryParse(text, CultureInfo.InvariantCulture, out var value) && value is >= 0 and <= 1 ? value : fallback;
}
