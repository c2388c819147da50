namespace Pipeline.Events;

/// <summary>One rule of the tracking plan an event breaks: where (<c>properties.revenue</c>) and what.</summary>
/// <param name="Path">The field, from the event's root.</param>
/// <param name="Message">What the plan expected.</param>
public sealed record PlanViolation(string Path, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Path}: {Message}";
}

/// <summary>
/// What the tracking plan said of an event when the Api accepted it (docs/tracking-plan.md); absent when no plan is set.
/// Stored with the event and archived with it, so a query can find what broke which version of the plan.
/// </summary>
public sealed record PlanCheck
{
    /// <summary>The event follows the plan.</summary>
    public const string Passed = "passed";

    /// <summary>The event breaks the plan, which keeps it with its violations.</summary>
    public const string Flagged = "flagged";

    /// <summary>The event breaks the plan, which refuses it: the Processor writes it to <c>rejected/</c>, not the table (Segment's calls only: /events answers 400).</summary>
    public const string Blocked = "blocked";

    /// <summary>The Api could not read the plan: the event was accepted without a check.</summary>
    public const string Unchecked = "unchecked";

    /// <summary>Most violations kept with an event; the count says how many there were.</summary>
    public const int MaxViolations = 10;

    /// <summary>The plan's version, or null when unchecked.</summary>
    public int? Version { get; init; }

    /// <summary><see cref="Passed"/>, <see cref="Flagged"/>, <see cref="Blocked"/> or <see cref="Unchecked"/>.</summary>
    public required string Status { get; init; }

    /// <summary>How many rules the event breaks.</summary>
    public int ViolationCount { get; init; }

    /// <summary>The first <see cref="MaxViolations"/> of them; null when there are none.</summary>
    public IReadOnlyList<PlanViolation>? Violations { get; init; }
}
