namespace Pipeline.Processor;

/// <summary>
/// Spaces the table writes of imported events within one invocation: the n-th starts no sooner than n / <c>perSecond</c>
/// seconds after the first, so an import takes at most that share of the table and live events do not queue behind a
/// backfill (docs/import.md). Live events never wait for it. Written here rather than taken from
/// System.Threading.RateLimiting: its limiters run on the machine's clock, not a <see cref="TimeProvider"/> a test can
/// move, and spacing writes evenly is a few lines.
/// </summary>
/// <param name="perSecond">Writes a second this invocation may start; 0 or less leaves them unpaced.</param>
/// <param name="clock">The clock the spacing is measured on.</param>
public sealed class ImportPace(double perSecond, TimeProvider clock)
{
    private readonly long _start = clock.GetTimestamp();
    private int _turns;

    /// <summary>Waits for the next write's turn; false if <paramref name="cancellationToken"/> ended the wait first.</summary>
    public async Task<bool> WaitTurnAsync(CancellationToken cancellationToken)
    {
        if (perSecond <= 0)
        {
            return true;
        }
        var turn = Interlocked.Increment(ref _turns) - 1;
        var wait = TimeSpan.FromSeconds(turn / perSecond) - clock.GetElapsedTime(_start);
        if (wait <= TimeSpan.Zero)
        {
            return !cancellationToken.IsCancellationRequested;
        }
        try
        {
            await Task.Delay(wait, clock, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
