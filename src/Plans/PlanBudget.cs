using System.Diagnostics;

namespace Pipeline.Plans;

/// <summary>
/// The time a request, and each of its events, may spend on the tracking plan, so that no client can hold the Api with
/// values a slow pattern backtracks on (docs/tracking-plan.md). Each match stops after <see cref="MatchTimeout"/>; an
/// event whose regex checks pass <see cref="PerEvent"/> has the rest as violations ("not checked"); the events of a
/// request that has spent <see cref="PerRequest"/> are accepted unchecked, as when no plan can be read. Wall-clock times.
/// </summary>
public sealed class PlanBudget
{
    /// <summary>Longest one regular expression may run on one value.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(20);

    /// <summary>Longest one event's regex checks may run before the rest are violations.</summary>
    public static readonly TimeSpan PerEvent = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest one request (an event, or a whole batch) may spend before its remaining events go unchecked.</summary>
    public static readonly TimeSpan PerRequest = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest the property names of one event may take to match a plan's <c>patternProperties</c> before they are a violation.</summary>
    public static readonly TimeSpan PropertyNames = TimeSpan.FromMilliseconds(20);

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
