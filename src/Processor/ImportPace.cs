namespace Pipeline.Processor;

/// <summary>
/// Spaces the table writes of imported events within one invocation: each starts at least 1 / <c>perSecond</c> seconds
/// after the one before it, so an import takes at most that share of the table and live events do not queue behind a
/// backfill (docs/import.md). A turn missed (the writes were slow, the table throttled) is not made up: the next starts
/// from now, never in a burst. Live events never wait for it. Written here rather than taken from
/// System.Threading.RateLimiting: its limiters run on the machine's clock, not a <see cref="TimeProvider"/> a test can
/// move, and spacing writes evenly is a few lines.
/// </summary>
/// <param name="perSecond">Writes a second this invocation may start; 0 or less leaves them unpaced.</param>
/// <param name="clock">The clock the spacing is measured on.</param>
public sealed class ImportPace(double perSecond, TimeProvider clock)
{
    private readonly Lock _turns = new();
    private readonly long _start = clock.GetTimestamp();
    private TimeSpan _next; // since _start: when the next turn may start

    /// <summary>Waits for the next write's turn; false if <paramref name="cancellationToken"/> ended the wait first.</summary>
    public async Task<bool> WaitTurnAsync(CancellationToken cancellationToken)
    {
        if (perSecond <= 0)
        {
            return true;
        }
        TimeSpan wait;
        lock (_turns)
        {
            var now = clock.GetElapsedTime(_start);
            var due = _next > now ? _next : now;
            _next = due + TimeSpan.FromSeconds(1 / perSecond);
            wait = due - now;
        }
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
