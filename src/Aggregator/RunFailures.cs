using Pipeline.Lambda;

using Pipeline.Summaries;

namespace Pipeline.Aggregator;

/// <summary>
/// The steps of a run that failed, each with its reason. A step runs through <see cref="TryAsync"/>: its failure (not the
/// deadline) is logged and listed, and the run goes on; the next run tries it again.
/// </summary>
public sealed class RunFailures(FunctionLog log)
{
    private readonly List<string> _steps = [];

    /// <summary>The failed steps, each as "step: reason", in the order they failed.</summary>
    public IReadOnlyList<string> Steps => _steps;

    /// <summary>How many steps failed.</summary>
    public int Count => _steps.Count;

    /// <summary>Runs one step; false if it failed (and was listed). The deadline is not a failure: it ends the run.</summary>
    public async Task<bool> TryAsync(string step, Func<Task> action, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(action);
        try
        {
            await action().ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            log.Write("ERROR", $"{step} failed; the next run tries again: {e.GetType().Name}: {e.Message}");
            _steps.Add($"{step}: {e.Message}");
            return false;
        }
    }
}
