using System.ComponentModel.DataAnnotations;

namespace Pipeline.Api.Hosting;

/// <summary>Where the tracking plan is read. Environment: <c>Plans__TableName</c>, <c>Plans__RefreshSeconds</c>.</summary>
public sealed class PlanOptions
{
    /// <summary>The tracking-plans table (the template's TrackingPlansTable).</summary>
    [Required(ErrorMessage = "Plans:TableName (environment Plans__TableName) is required: the tracking-plans table.")]
    public string TableName { get; set; } = "";

    /// <summary>How often the plan is read again; a new plan applies within this time.</summary>
    [Range(1, 3600)]
    public int RefreshSeconds { get; set; } = 30;
}
