using System.Text.Json;
using Pipeline.Storage;

namespace Pipeline.Intake;

/// <summary>
/// The rules <c>/events</c>, Segment's <c>/v1</c> and the import function share, written once: what an id may be, how far an event's time
/// may be from now, what a free-form object and a text field must be to be stored.
/// What is taken from an HTTP request is the Api's own (<c>RequestFields</c>).
/// </summary>
public static partial class EventRules
{
    /// <summary>Why an event's time cannot be accepted at <paramref name="now"/> (too far ahead, or too old), naming it <paramref name="subject"/>; or null.</summary>
    public static string? TimeProblem(DateTimeOffset at, DateTimeOffset now, EventLimits limits, string subject)
    {
        ArgumentNullException.ThrowIfNull(limits);
        return at > now + limits.MaxClockSkew ? $"{subject} is more than {limits.MaxClockSkew} ahead (in the future)."
            : at < now - limits.MaxEventAge ? $"{subject} is older than the limit of {limits.MaxEventAge.TotalDays:0.#} days."
            : null;
    }

    /// <summary>Why a text field cannot be stored (too long, not valid Unicode), or null.</summary>
    public static string? TextProblem(string? value, string name, int maxLength) =>
        value is null ? null
            : value.Length > maxLength ? $"'{name}' must be at most {maxLength} characters."
            : !DynamoDbLimits.IsValidUnicode(value) ? $"'{name}' is not valid Unicode (an unpaired surrogate)."
            : null;

    /// <summary>Why an optional JSON object field cannot be accepted (not an object, too deep, not storable), or null.</summary>
    public static string? ObjectProblem(JsonElement? value, string name, int maxDepth)
    {
        if (value is not { } element || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (element.ValueKind != JsonValueKind.Object)
        {
            return $"'{name}' must be a JSON object.";
        }
        if (Depth(element) > maxDepth)
        {
            return $"'{name}' is nested deeper than {maxDepth} levels.";
        }
        // Accepted must mean storable: refuse here what the events table would refuse later.
        return DynamoDbLimits.Problem(element, name);
    }

    /// <summary>The value, or null if it is empty or white space (a blank id is no id).</summary>
    public static string? NullIfBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    // Loops, not LINQ: this runs on every accepted event and row, and LINQ's enumerators and delegates were a third of its cost.
    private static int Depth(JsonElement element)
    {
        var deepest = 0;
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    deepest = Math.Max(deepest, Depth(property.Value));
                }
                return 1 + deepest;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    deepest = Math.Max(deepest, Depth(item));
                }
                return 1 + deepest;
            default:
                return 0;
        }
    }
}
