using System.CommandLine;
using Pipeline.Cli.Commands;
using Pipeline.CommandLine;

namespace Pipeline.Cli;

/// <summary>The command line of <c>pipeline</c>: each command is defined, with its arguments, in its own type under <c>Commands/</c>.</summary>
public static class CliCommands
{
    /// <summary>Runs a command (help if none is given); returns the process exit code: 2 for a command line it refuses.</summary>
    public static Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken) =>
        CommandLineProgram.RunAsync(Root(), "pipeline", args, ["--help"], output, Explain, cancellationToken);

    private static string? Explain(Exception e, Command command) =>
        e is HttpRequestException or Amazon.Runtime.AmazonClientException && StackTarget.Reaches(command)
            ? $"Cannot reach the stack's services ({e.Message}). The local environment: start it first (dotnet run --project src/Local); "
                + "a deployed stack: check --region and --profile, and the network."
            : null;

    private static RootCommand Root()
    {
        var root = new RootCommand("""
            Operates an event pipeline stack: the local environment (dotnet run --project src/Local) by default, or a
            deployed stack with --stack and --profile/--region (credentials from the AWS default chain).

            Environment: PIPELINE_STACK (default pipeline-local); PIPELINE_API_KEY (the key `generate` sends with).
            --version also warns when the deployed stack PIPELINE_STACK names (with AWS_REGION, AWS_DEFAULT_REGION or AWS_PROFILE) runs another release.
            """);
        foreach (var command in new[]
        {
            KeysCommand.Create(),
            RedriveCommand.Create(),
            ReplayCommand.Create(),
            StatusCommand.Create(),
            QueryCommand.Create(),
            CompactCommand.Create(),
            GenerateCommand.Create(),
            PlanCommand.Create(),
            ImportCommand.Create(),
        })
        {
            root.Subcommands.Add(command);
        }
        root.Options.OfType<VersionOption>().Single().Action = VersionAction.ForThisProcess();
        return root;
    }
}
