using Pipeline.CommandLine;

namespace Pipeline.Local;

/// <summary>
/// The entry point of <c>dotnet run --project src/Local</c> (not top-level statements: the Api's Program would clash with it in
/// the tests, which reference both).
/// </summary>
public static class LocalProgram
{
    /// <summary>Runs a command until it ends or Ctrl-C/SIGTERM stops it.</summary>
    public static Task<int> Main(string[] args) => ConsoleProgram.RunAsync(stop => LocalCommands.RunAsync(args, Console.Out, stop));
}
