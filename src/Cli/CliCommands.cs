using System.CommandLine;
using Pipeline.Cli.Commands;

namespace Pipeline.Cli;

/// <summary>The command line of <c>pipeline</c>: each command is defined, with its arguments, in its own type under <c>Commands/</c>.</summary>
public static class CliCommands
{
    /// <summary>Runs a command (help if none is given); returns the process exit code: 2 for a command line it refuses.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var parsed = Root().Parse(args.Length == 0 ? ["--help"] : args);
        var error = Console.Error;
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors)
            {
                await error.WriteLineAsync(e.Message);
            }
            await error.WriteLineAsync($"See: pipeline {string.Concat(Path(parsed.CommandResult.Command).Select(c => c + " "))}--help");
            return 2;
        }
        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false }, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or Amazon.Runtime.AmazonClientException && StackTarget.Reaches(parsed.CommandResult.Command))
        {
            await error.WriteLineAsync($"Cannot reach the stack's services ({e.Message}). For the local environment, start it first: dotnet run --project src/Local");
            return 1;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException && !cancellationToken.IsCancellationRequested)
        {
            // Start-up failures (a missing tool, a port in use, a bad setting) need their message, not a stack trace.
            await error.WriteLineAsync($"error: {e.Message}");
            return 1;
        }
    }

    private static RootCommand Root()
    {
        var root = new RootCommand("""
            Operates an event pipeline stack: the local environment (dotnet run --project src/Local) by default, or a
            deployed stack with --stack and --profile/--region (credentials from the AWS default chain).

            Environment: PIPELINE_STACK (default pipeline-local); PIPELINE_API_KEY (the key `generate` sends with).
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
        // Without an action, an unknown command would read "Required command was not provided".
        root.SetAction(r => root.Parse(["--help"]).Invoke(r.InvocationConfiguration));
        var topic = new Argument<string?>("COMMAND") { Description = "the command to describe", Arity = ArgumentArity.ZeroOrOne };
        var help = new Command("help", "this text, or a command's: help COMMAND") { topic };
        help.SetAction(r => root.Parse(r.GetValue(topic) is { } command ? [command, "--help"] : ["--help"]).Invoke(r.InvocationConfiguration));
        root.Subcommands.Add(help);
        return root;
    }

    private static IEnumerable<string> Path(Command command) =>
        command is RootCommand ? [] : (command.Parents.OfType<Command>().FirstOrDefault() is { } parent ? Path(parent) : []).Append(command.Name);
}
