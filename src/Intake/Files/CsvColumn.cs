using System.Text.Json;

namespace Pipeline.Intake;

/// <summary>
/// One column of a CSV header: an event field (<c>eventType</c>, <c>userId</c>, <c>anonymousId</c>, <c>occurredAt</c>,
/// <c>eventId</c>) or a property (<c>properties.cart.total</c>), with the JSON type of its cells after a colon:
/// <c>string</c> (the default), <c>number</c>, <c>boolean</c> or <c>json</c> (docs/import.md, "CSV").
/// </summary>
/// <param name="Field">The event field, or null for a property.</param>
/// <param name="Path">The property's path under <c>properties</c>, or null for a field.</param>
/// <param name="Type">The cells' JSON type.</param>
/// <param name="Name">The column as the header names it.</param>
public sealed record CsvColumn(string? Field, string[]? Path, string Type, string Name)
{
    /// <summary>The event fields a column may name.</summary>
    public static readonly IReadOnlyList<string> Fields = ["eventType", "userId", "anonymousId", "occurredAt", "eventId"];

    /// <summary>The types a property column may give.</summary>
    public static readonly IReadOnlyList<string> Types = ["string", "number", "boolean", "json"];

    private const string Prefix = "properties.";

    /// <summary>The columns of a header, or why it cannot be used (an unknown, repeated or clashing column, an unknown type).</summary>
    public static (CsvColumn[]? Columns, string? Error) Parse(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var columns = new List<CsvColumn>();
        foreach (var raw in names)
        {
            var name = raw.Trim();
            var colon = name.LastIndexOf(':');
            var (bare, type) = colon < 0 ? (name, "string") : (name[..colon], name[(colon + 1)..]);
            if (Fields.Contains(bare))
            {
                if (colon >= 0)
                {
                    return (null, $"column '{name}': the event's fields are text; only properties take a type.");
                }
                columns.Add(new CsvColumn(bare, null, "string", name));
                continue;
            }
            if (!bare.StartsWith(Prefix, StringComparison.Ordinal))
            {
                return (null, $"column '{name}' is neither one of the event's fields ({string.Join(", ", Fields)}) nor properties.NAME.");
            }
            var path = bare[Prefix.Length..].Split('.');
            if (path.Any(p => p.Length == 0))
            {
                return (null, $"column '{name}' has an empty name between its dots.");
            }
            if (!Types.Contains(type))
            {
                return (null, $"column '{name}': the type must be one of {string.Join(", ", Types)}.");
            }
            columns.Add(new CsvColumn(null, path, type, name));
        }
        var keys = columns.Select(c => c.Field ?? Prefix + string.Join('.', c.Path!)).ToList();
        if (keys.GroupBy(k => k, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } repeated)
        {
            return (null, $"column '{repeated.Key}' is named twice.");
        }
        if (keys.FirstOrDefault(k => keys.Any(o => o.StartsWith(k + ".", StringComparison.Ordinal))) is { } clash)
        {
            return (null, $"column '{clash}' is a value, but other columns put properties inside it.");
        }
        return ([.. columns], null);
    }

    /// <summary>A property cell's JSON value, or null with <paramref name="problem"/>.</summary>
    public JsonElement? Value(string cell, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(cell);
        problem = null;
        switch (Type)
        {
            case "string":
                return JsonSerializer.SerializeToElement(cell, IntakeJsonContext.Default.String);
            case "boolean":
                if (bool.TryParse(cell.Trim(), out var flag))
                {
                    return JsonSerializer.SerializeToElement(flag, IntakeJsonContext.Default.Boolean);
                }
                break;
            case "number":
                if (Parse(cell.Trim()) is { ValueKind: JsonValueKind.Number } n)
                {
                    return n;
                }
                break;
            default:
                if (Parse(cell) is { } json)
                {
                    return json;
                }
                break;
        }
        problem = $"'{Name}' is not {(Type == "json" ? "JSON" : "a " + Type)}: '{(cell.Length > 40 ? cell[..40] + "…" : cell)}'.";
        return null;
    }

    private static JsonElement? Parse(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
