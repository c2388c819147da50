using System.ComponentModel.DataAnnotations;

namespace Pipeline.Intake;

/// <summary>The limits every event and batch must respect; documented in the OpenAPI description.</summary>
public sealed class EventLimits
{
    /// <summary>Largest event, in bytes of JSON (the body of POST /events, or one item of a batch).</summary>
    [Range(1024, 262144)]
    public int MaxEventBytes { get; set; } = 32 * 1024;

    /// <summary>Largest body of POST /events/batch, in bytes.</summary>
    [Range(1024, 6 * 1024 * 1024)]
    public int MaxBatchBytes { get; set; } = 512 * 1024;

    /// <summary>Most events in one batch.</summary>
    [Range(1, 1000)]
    public int MaxBatchEvents { get; set; } = 100;

    /// <summary>Deepest nesting of <c>properties</c> (an object of scalars has depth 1).</summary>
    [Range(1, 32)]
    public int MaxPropertiesDepth { get; set; } = 8;

    /// <summary>Oldest accepted <c>occurredAt</c>, back from now.</summary>
    public TimeSpan MaxEventAge { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How far in the future <c>occurredAt</c> may be (client clock skew).</summary>
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromMinutes(5);
}
