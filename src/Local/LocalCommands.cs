using System.CommandLine;
using Pipeline.Local.CloudFormation;

namespace Pipeline.Local;

/// <summary>The command line of <c>dotnet run --project src/Local</c>: each command is defined, with its arguments, in its own type.</summary>
public static class LocalCommands
{
    /// <summary>Runs a command (<c>up</c> if none is given); returns the process exit code: 2 for a command line it refuses.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var parsed = Root().Parse(args.Length == 0 ? ["up"] : args);
        var error = Console.Error;
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors)
            {
                await error.WriteLineAsync(e.Message);
            }
            await error.WriteLineAsync($"See: dotnet run --project src/Local -- {string.Concat(Path(parsed.CommandResult.Command).Select(c => c + " "))}--help");
            return 2;
        }
        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false }, cancellationToken);
        }
        catch (TemplateException e)
        {
            await error.WriteLineAsync($"serverless.template: {e.Message}");
            return 1;
        }
        catch (Lambda.LambdaInvocationException e)
        {
            await error.WriteLineAsync($"The function failed: {e.Message}");
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
            The event pipeline on this machine: emulators standing in for AWS, the template's resources provisioned on
            them, the Api and the two functions run as their own processes. Operate it with the CLI (src/Cli: pipeline).

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
        // Never reached from the command line (no command runs `up`); without an action, an unknown command would also read "Required command was not provided".
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
