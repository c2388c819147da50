using System.Text.Json;
using Pipeline.Events;
using Pipeline.Plans;

namespace Pipeline.Api.Plans;

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
