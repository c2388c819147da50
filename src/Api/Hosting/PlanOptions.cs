using System.ComponentModel.DataAnnotations;

namespace Pipeline.Api.Hosting;

/// <summary>
/// Where and how the tracking plan is read. Environment: <c>Plans__TableName</c>, <c>Plans__RefreshSeconds</c>,
/// <c>Plans__ReadWaitMilliseconds</c>.
/// </summary>
public sealed class PlanOptions
{
    /// <summary>The tracking-plans table (the template's TrackingPlansTable).</summary>
    [Required(ErrorMessage = "Plans:TableName (environment Plans__TableName) is required: the tracking-plans table.")]
    public string TableName { get; set; } = "";

    /// <summary>How often the plan is read again; a new plan applies within this time.</summary>
    [Range(1, 3600)]
    public int RefreshSeconds { get; set; } = 30;

    /// <summary>
    /// Longest a request waits for a read of the plan (the first one, or the refresh it starts); past it, the request
    /// goes on with the plan in force (none yet: unchecked) and the read goes on in the background.
    /// </summary>
    [Range(0, 10000)]
    public int ReadWaitMilliseconds { get; set; } = 1500;
}
