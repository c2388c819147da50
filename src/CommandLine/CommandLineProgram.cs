using System.CommandLine;

namespace Pipeline.CommandLine;

/// <summary>Runs a program's command line: help, a refused command line (exit 2), and a failure the program can explain (exit 1).</summary>
public static class CommandLineProgram
{
    /// <summary>
    /// Adds <c>help [COMMAND]</c> to <paramref name="root"/>, parses <paramref name="args"/> (<paramref name="whenEmpty"/> if there are none)
    /// and runs the command. A refused command line prints its errors and where to look (<c>INVOKED-AS COMMAND --help</c>) and
    /// returns 2. An exception <paramref name="explain"/> turns into a message (given the command that ran), or a start-up
    /// failure (<see cref="InvalidOperationException"/>, <see cref="IOException"/>), prints that message and returns 1.
    /// </summary>
    public static async Task<int> RunAsync(RootCommand root, string invokedAs, string[] args, string[] whenEmpty, TextWriter output,
        Func<Exception, Command, string?> explain, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(explain);
        AddHelp(root, invokedAs);
        var parsed = root.Parse(args.Length == 0 ? whenEmpty : args);
        var error = Console.Error;
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors)
            {
                await error.WriteLineAsync(e.Message).ConfigureAwait(false);
            }
            await error.WriteLineAsync($"See: {invokedAs} {string.Concat(Path(parsed.CommandResult.Command).Select(c => c + " "))}--help").ConfigureAwait(false);
            return 2;
        }
        try
        {
            var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
            return await parsed.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (explain(e, parsed.CommandResult.Command) is { } message)
        {
            await error.WriteLineAsync(message).ConfigureAwait(false);
            return 1;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException && !cancellationToken.IsCancellationRequested)
        {
            // Start-up failures (a missing tool, a port in use, a bad setting) need their message, not a stack trace.
            await error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    private static void AddHelp(RootCommand root, string invokedAs)
    {
        // Without an action, an unknown command would read "Required command was not provided".
        root.SetAction(r => root.Parse(["--help"]).Invoke(r.InvocationConfiguration));
        var topic = new Argument<string?>("COMMAND") { Description = "the command to describe", Arity = ArgumentArity.ZeroOrOne };
        var help = new Command("help", "this text, or a command's: help COMMAND") { topic };
        help.SetAction(r =>
        {
            var command = r.GetValue(topic);
            if (command is null || root.Subcommands.Any(c => c.Name == command || c.Aliases.Contains(command)))
            {
                return root.Parse(command is null ? ["--help"] : [command, "--help"]).Invoke(r.InvocationConfiguration);
            }
            // help TYPO: refused as TYPO alone is (with --help, the parser would answer it with the whole help and exit 0).
            r.InvocationConfiguration.Error.WriteLine($"Unrecognized command '{command}'.");
            r.InvocationConfiguration.Error.WriteLine($"See: {invokedAs} --help");
            return 2;
        });
        root.Subcommands.Add(help);
    }

    private static IEnumerable<string> Path(Command command) =>
        command is RootCommand ? [] : (command.Parents.OfType<Command>().FirstOrDefault() is { } parent ? Path(parent) : []).Append(command.Name);
}
