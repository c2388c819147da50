using System.Text.Json;
using Pipeline.Events;

namespace Pipeline.Plans;

/// <summary>
/// The plan applied (by the Api, and by the import function to each row): none set, a plan and its version, or unknown
/// (never read: events are accepted, marked unchecked).
/// </summary>
/// <param name="Plan">The plan, or null.</param>
/// <param name="Version">Its version, or null.</param>
/// <param name="Unreadable">True if no plan could ever be read (the store failed, or held a plan this Api cannot use).</param>
public sealed record PlanState(TrackingPlan? Plan, int? Version, bool Unreadable)
{
    /// <summary>No plan is set: events are accepted as they are.</summary>
    public static PlanState None { get; } = new(null, null, false);

    /// <summary>No plan could be read yet.</summary>
    public static PlanState Unknown { get; } = new(null, null, true);

    /// <summary>The current plan of <paramref name="store"/>, read now; a failed read or an unusable plan throws.</summary>
    public static async Task<PlanState> ReadAsync(TrackingPlanStore store, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var stored = await store.GetAsync(cancellationToken).ConfigureAwait(false);
        return stored is null ? None : new PlanState(TrackingPlan.Parse(stored.Document), stored.Version, false);
    }
}

/// <summary>The tracking plan's verdict on one accepted event, as the queued event carries it.</summary>
public static class PlanChecks
{
    /// <summary>
    /// What <paramref name="state"/> says of an event within <paramref name="budget"/>: the check it is queued with (null
    /// without a plan), whether it is refused, and why the plan could not be evaluated (it is then unchecked), or null.
    /// </summary>
    public static (PlanCheck? Check, bool Blocked, string? Failure) Of(PlanState state, PlanBudget budget, string eventType, JsonElement? properties, JsonElement? traits)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Plan is not { } plan)
        {
            return (state.Unreadable ? new PlanCheck { Status = PlanCheck.Unchecked } : null, false, null);
        }
        var verdict = plan.Evaluate(eventType, properties, traits, budget);
        if (verdict.Unchecked is not null)
        {
            return (new PlanCheck { Version = state.Version, Status = PlanCheck.Unchecked }, false, verdict.Failed ? verdict.Unchecked : null);
        }
        var violations = verdict.Violations;
        return (new PlanCheck
        {
            Version = state.Version,
            Status = violations.Count == 0 ? PlanCheck.Passed : verdict.Blocked ? PlanCheck.Blocked : PlanCheck.Flagged,
            ViolationCount = violations.Count,
            Violations = violations.Count == 0 ? null : [.. violations.Take(PlanCheck.MaxViolations)],
        }, verdict.Blocked, null);
    }

    /// <summary>A refused event's violations as a problem's field errors, by path.</summary>
    public static Dictionary<string, string[]> Errors(PlanCheck check) =>
        (check?.Violations ?? []).GroupBy(v => v.Path).ToDictionary(g => g.Key, g => g.Select(v => $"{v.Message} (tracking plan version {check!.Version})").ToArray());
}
