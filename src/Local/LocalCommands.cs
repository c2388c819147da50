using System.CommandLine;
using Pipeline.CommandLine;
using Pipeline.Local.CloudFormation;

namespace Pipeline.Local;

/// <summary>The command line of <c>dotnet run --project src/Local</c>: each command is defined, with its arguments, in its own type.</summary>
public static class LocalCommands
{
    /// <summary>Runs a command (<c>up</c> if none is given); returns the process exit code: 2 for a command line it refuses.</summary>
    public static Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken) =>
        CommandLineProgram.RunAsync(Root(), "dotnet run --project src/Local --", args, ["up"], output, Explain, cancellationToken);

    private static string? Explain(Exception e, Command command) => e switch
    {
        TemplateException => $"serverless.template: {e.Message}",
        Lambda.LambdaInvocationException => $"The function failed: {e.Message}",
        _ => null,
    };

    private static RootCommand Root()
    {
        var root = new RootCommand("""
            The event pipeline on this machine: emulators standing in for AWS, the template's resources provisioned on
            them, the Api and the functions run as their own processes. Operate it with the CLI (src/Cli: pipeline).

            Environment: PIPELINE_STACK (default pipeline-local); PIPELINE_API_KEY (a key `up` registers, for scripts;
            without it, `up` creates one and prints it); PIPELINE_SUMMARY_WINDOW (the local summary window, default 00:01:00).
            """)
        {
            HelpName = "dotnet run --project src/Local --",
        };
        foreach (var command in new[]
        {
            UpCommand.Create(),
            UpCommand.Provision(),
            UpCommand.Aggregate(),
        })
        {
            root.Subcommands.Add(command);
        }
        return root;
    }
}
