namespace Pipeline.Local.Tests;

public sealed class HelpTests
{
    private static readonly string[] Commands = ["up ", "provision ", "aggregate ", "keys create", "keys list", "keys revoke", "redrive ", "replay ", "status ", "generate ", "help "];

    [Fact]
    public async Task Help_lists_every_command_each_on_a_line_of_its_own()
    {
        using var output = new StringWriter();

        Assert.Equal(0, await LocalCommands.RunAsync(["help"], output, CancellationToken.None));

        var lines = output.ToString().Split('\n').Select(l => l.TrimStart()).ToList();
        Assert.All(Commands, command => Assert.Contains(lines, l => l.StartsWith(command, StringComparison.Ordinal)));
    }
}
