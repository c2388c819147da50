using System.Runtime.InteropServices;

namespace Pipeline.Cli;

/// <summary>The entry point of <c>pipeline</c> (and <c>dotnet run --project src/Cli</c>).</summary>
public static class CliProgram
{
    /// <summary>Runs a command until it ends or Ctrl-C/SIGTERM stops it.</summary>
    public static async Task<int> Main(string[] args)
    {
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
            return await CliCommands.RunAsync(args, Console.Out, stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 0;
        }
    }
}
