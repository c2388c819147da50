namespace Pipeline.Api.Hosting;

/// <summary>The answer of GET /health.</summary>
/// <param name="Status">Always <c>ok</c> while the process serves requests.</param>
/// <param name="Version">The release (CHANGELOG.md).</param>
public sealed record HealthStatus(string Status, string Version);
