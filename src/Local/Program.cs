using System.Runtime.InteropServices;

namespace Pipeline.Local;

/// <summary>
/// The entry point of <c>dotnet run --project src/Local</c> (not top-level statements: the Api's Program would clash with it in
/// the tests, which reference both).
/// </summary>
public static class LocalProgram
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
            return await LocalCommands.RunAsync(args, Console.Out, stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 0;
        }
    }
}
