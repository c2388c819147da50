namespace Pipeline.Local.Tests;

public sealed class HelpTests
{
    [Fact]
    public async Task Help_lists_every_command_each_on_a_line_of_its_own_the_operators_in_the_cli_the_environments_in_local()
    {
        Assert.Equal(["compact", "generate", "help", "import", "keys", "plan", "query", "redrive", "replay", "status"],
            [.. (await Listed(Pipeline.Cli.CliCommands.RunAsync, ["help"])).Order(StringComparer.Ordinal)]);
        Assert.Equal(["create", "list", "revoke"], [.. (await Listed(Pipeline.Cli.CliCommands.RunAsync, ["help", "keys"])).Order(StringComparer.Ordinal)]);
        Assert.Equal(["aggregate", "help", "provision", "up"], [.. (await Listed(LocalCommands.RunAsync, ["help"])).Order(StringComparer.Ordinal)]);
    }

    [Theory]
    [InlineData("bogus")]
    [InlineData("help", "bogus")]
    [InlineData("query", "SELECT 1", "--bogus")]
    [InlineData("replay", "--from", "2026-11-24T10:00Z")] // no --to
    [InlineData("replay", "--from", "2026-11-24T10:00Z", "--to", "2026-11-24T09:00Z")]
    [InlineData("status", "--interval", "0")]
    [InlineData("compact", "--bucket")] // no bucket named
    public async Task A_command_line_the_program_does_not_take_is_refused_with_exit_code_2_before_anything_runs(params string[] args)
    {
        Assert.Equal(2, await Pipeline.Cli.CliCommands.RunAsync(args, TextWriter.Null, CancellationToken.None));
        Assert.Equal(2, await LocalCommands.RunAsync(["bogus"], TextWriter.Null, CancellationToken.None));
        Assert.Equal(2, await LocalCommands.RunAsync(["help", "bogus"], TextWriter.Null, CancellationToken.None));
    }

    // The first word of each line of the Commands section of the help.
    private static async Task<List<string>> Listed(Func<string[], TextWriter, CancellationToken, Task<int>> run, string[] args)
    {
        using var output = new StringWriter();
        Assert.Equal(0, await run(args, output, CancellationToken.None));
        var text = output.ToString();
        var commands = text[(text.IndexOf("Commands:", StringComparison.Ordinal) + "Commands:".Length)..];
        return [.. commands.Split('\n').Where(l => l.StartsWith("  ", StringComparison.Ordinal) && l[2] != ' ').Select(l => l.Trim().Split(' ')[0])];
    }

    [Fact]
    public async Task Up_refuses_a_short_pipeline_api_key_before_it_starts_anything()
    {
        var before = System.Environment.GetEnvironmentVariable("PIPELINE_API_KEY");
        System.Environment.SetEnvironmentVariable("PIPELINE_API_KEY", "short");
        try
        {
            // 2 is a refused command line: `up` itself ends in 0, or 1 for a failure once started.
            Assert.Equal(2, await LocalCommands.RunAsync(["up"], TextWriter.Null, CancellationToken.None));
        }
        finally
        {
            System.Environment.SetEnvironmentVariable("PIPELINE_API_KEY", before);
        }
    }
}
