using Pipeline.CommandLine;

namespace Pipeline.Cli;

/// <summary>The entry point of <c>pipeline</c> (and <c>dotnet run --project src/Cli</c>).</summary>
public static class CliProgram
{
    /// <summary>Runs a command until it ends or Ctrl-C/SIGTERM stops it.</summary>
    public static Task<int> Main(string[] args) => ConsoleProgram.RunAsync(stop => CliCommands.RunAsync(args, Console.Out, stop));
}
