using System.Runtime.InteropServices;

namespace Pipeline.CommandLine;

/// <summary>What the command-line programs (the CLI, the local environment) share: a command run until it ends or Ctrl-C/SIGTERM stops it.</summary>
public static class ConsoleProgram
{
    /// <summary>
    /// Runs <paramref name="command"/> with a token that Ctrl-C or SIGTERM cancels (the process is not killed: the command
    /// shuts down in order what it started); returns its exit code, or 0 when it stopped on that cancellation.
    /// </summary>
    public static async Task<int> RunAsync(Func<CancellationToken, Task<int>> command)
    {
        ArgumentNullException.ThrowIfNull(command);
        using var stop = new CancellationTokenSource();
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true; // shut down in order: the commands stop what they started
            stop.Cancel();
        }
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        try
        {
            return await command(stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 0;
        }
    }
}
