using System.Runtime.InteropServices;
using Pipeline.Local;

using var stop = new CancellationTokenSource();
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

void Stop(PosixSignalContext context)
{
    context.Cancel = true; // shut down in order: the emulators are stopped by the commands' cleanup
    stop.Cancel();
}
