using System.ComponentModel.DataAnnotations;

namespace Pipeline.Api.Hosting;

/// <summary>Browsers' access to the Segment-compatible endpoints. Environment: <c>Tracking__AllowedOrigins</c>.</summary>
public sealed class TrackingOptions : IValidatableObject
{
    /// <summary>
    /// Comma-separated origins (<c>https://shop.example.com</c>) whose pages may send events with analytics.js;
    /// <c>*</c> for any page, empty for none. Only the /v1 endpoints answer browsers; /events never does.
    /// </summary>
    public string AllowedOrigins { get; set; } = "*";

    /// <summary>The origins, one per entry.</summary>
    public IReadOnlyList<string> Origins() =>
        AllowedOrigins.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <inheritdoc/>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        Origins().Where(o => o != "*" && !(Uri.TryCreate(o, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.AbsolutePath == "/"))
            .Select(o => new ValidationResult($"Tracking:AllowedOrigins: '{o}' is not an origin (scheme and host, e.g. https://shop.example.com) or *.", [nameof(AllowedOrigins)]));
}
