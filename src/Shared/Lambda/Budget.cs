namespace Pipeline.Lambda;

/// <summary>An invocation's time budget as a cancellation.</summary>
public static class Budget
{
    /// <summary>
    /// Cancels <paramref name="source"/> after <paramref name="delay"/>, and at once, before this returns, when no time is left:
    /// <see cref="CancellationTokenSource.CancelAfter(TimeSpan)"/> arms a timer even for zero, which a busy machine fires after
    /// work has started that should not have, and throws for a negative delay (an invocation already past its deadline).
    /// </summary>
    public static void CancelAfterOrNow(this CancellationTokenSource source, TimeSpan delay)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (delay <= TimeSpan.Zero)
        {
            source.Cancel();
        }
        else
        {
            source.CancelAfter(delay);
        }
    }
}
