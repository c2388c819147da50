namespace Pipeline.Local.Tests;

public sealed class HelpTests
{
    private static readonly string[] Commands = ["up", "provision", "aggregate", "keys", "redrive", "replay", "status", "query", "compact", "generate", "help"];

    [Fact]
    public async Task Help_lists_every_command_each_on_a_line_of_its_own()
    {
        var listed = await Listed(["help"]);
        Assert.All(Commands, command => Assert.Contains(command, listed));
        Assert.Equal(["create", "list", "revoke"], [.. (await Listed(["help", "keys"])).Order(StringComparer.Ordinal)]);
    }

    [Theory]
    [InlineData("bogus")]
    [InlineData("query", "SELECT 1", "--bogus")]
    [InlineData("replay", "--from", "2026-11-24T10:00Z")] // no --to
    [InlineData("replay", "--from", "2026-11-24T10:00Z", "--to", "2026-11-24T09:00Z")]
    [InlineData("status", "--interval", "0")]
    [InlineData("compact", "--region", "eu-west-1")] // a deployed stack without --bucket
    public async Task A_command_line_the_program_does_not_take_is_refused_with_exit_code_2_before_anything_runs(params string[] args)
    {
        Assert.Equal(2, await LocalCommands.RunAsync(args, TextWriter.Null, CancellationToken.None));
    }

    // The first word of each line of the Commands section of the help.
    private static async Task<List<string>> Listed(string[] args)
    {
        using var output = new StringWriter();
        Assert.Equal(0, await LocalCommands.RunAsync(args, output, CancellationToken.None));
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
