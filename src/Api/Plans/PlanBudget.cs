using System.Diagnostics;

namespace Pipeline.Api.Plans;

/// <summary>
/// The time one request may spend on its tracking plan's regular expressions (<c>pattern</c>, <c>patternProperties</c>,
/// <c>format</c>), so that no client can hold the Api with a value a slow pattern backtracks on (docs/tracking-plan.md).
/// Each match stops after <see cref="MatchTimeout"/>; once the request has spent <see cref="PerRequest"/>, the checks
/// that remain are violations ("not checked") rather than work. Both are wall-clock times.
/// </summary>
public sealed class PlanBudget
{
    /// <summary>Longest one regular expression may run on one value.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(20);

    /// <summary>Longest one request (an event, or a whole batch) may spend evaluating its plan.</summary>
    public static readonly TimeSpan PerRequest = TimeSpan.FromMilliseconds(200);

    [ThreadStatic]
    private static PlanBudget? t_current;

    private readonly long _deadline;

    private PlanBudget(TimeSpan total) => _deadline = Stopwatch.GetTimestamp() + (long)(total.TotalSeconds * Stopwatch.Frequency);

    /// <summary>The budget of the evaluation running on this thread, if any (JSON Schema evaluation is synchronous).</summary>
    internal static PlanBudget? Current => t_current;

    /// <summary>True once the request has spent its budget.</summary>
    public bool Spent => Stopwatch.GetTimestamp() >= _deadline;

    /// <summary>A request's budget, starting now.</summary>
    public static PlanBudget StartNew(TimeSpan? total = null) => new(total ?? PerRequest);

    /// <summary>Makes this the budget of the evaluations on this thread until the result is disposed.</summary>
    internal Scope Enter()
    {
        var previous = t_current;
        t_current = this;
        return new Scope(previous);
    }

    internal readonly struct Scope(PlanBudget? previous) : IDisposable
    {
        public void Dispose() => t_current = previous;
    }
}
