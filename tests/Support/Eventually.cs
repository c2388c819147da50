using System.Diagnostics;

namespace Pipeline.Tests;

/// <summary>
/// Waits on conditions, never for a fixed time; and the one quiet period, for a test that must show that nothing more
/// arrives (a duplicate, a second summary) after what it waited for.
/// </summary>
public static class Eventually
{
    /// <summary>How long a test waits for something that must not happen; long enough on this 2-core machine for a redelivery or a late write to land.</summary>
    public static readonly TimeSpan QuietPeriod = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Runs <paramref name="step"/> (a poll of the event source; by default a 50 ms pause) until <paramref name="condition"/>
    /// holds or <paramref name="timeout"/> passes; returns whether it held. The caller's assertions say what was missing.
    /// </summary>
    public static async Task<bool> UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<Task>? step = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                return false;
            }
            await (step?.Invoke() ?? Task.Delay(50));
        }
        return true;
    }

    /// <summary>As <see cref="UntilAsync(Func{Task{bool}}, TimeSpan, Func{Task})"/>, for a condition that needs no I/O.</summary>
    public static Task<bool> UntilAsync(Func<bool> condition, TimeSpan timeout) => UntilAsync(() => Task.FromResult(condition()), timeout);

    /// <summary>Waits the quiet period; after it, a test asserts that nothing more arrived.</summary>
    public static Task QuietAsync() => Task.Delay(QuietPeriod);
}
