using System.Text.Json;
using System.Text.RegularExpressions;
using Json.Schema;
using Pipeline.Events;

namespace Pipeline.Plans;

/// <summary>What a plan does with an event that breaks it: keep it with its violations, or refuse it.</summary>
public enum PlanMode
{
    /// <summary>Accepted and stored, with the violations recorded.</summary>
    Flag,

    /// <summary>Refused.</summary>
    Block,
}

/// <summary>What a plan does with an event type it does not name.</summary>
public enum UnplannedMode
{
    /// <summary>Accepted as it is.</summary>
    Allow,

    /// <summary>Accepted, flagged as unplanned.</summary>
    Flag,

    /// <summary>Refused.</summary>
    Block,
}

/// <summary>What a plan says of one event.</summary>
/// <param name="Blocked">True if the event is refused.</param>
/// <param name="Violations">The rules it breaks (empty when it passes).</param>
/// <param name="Unchecked">Why the plan was not evaluated (the event is then accepted unchecked), or null.</param>
/// <param name="Failed">True if that is a fault (logged and counted), not the request's spent budget.</param>
public sealed record PlanVerdict(bool Blocked, IReadOnlyList<PlanViolation> Violations, string? Unchecked = null, bool Failed = false)
{
    /// <summary>The verdict of an event that passes.</summary>
    public static PlanVerdict Pass { get; } = new(false, []);
}

/// <summary>A plan document that cannot be used, with the path of the problem (<c>events.Order Completed.properties</c>).</summary>
public sealed class PlanException(string path, string message) : Exception($"{path}: {message}")
{
    /// <summary>Where the problem is, from the document's root.</summary>
    public string Path { get; } = path;
}

/// <summary>
/// A tracking plan (docs/tracking-plan.md): for each event type, a JSON Schema (2020-12) for <c>properties</c> and, for
/// identify and group calls, <c>traits</c>; a mode for the plan and optionally per type; and what to do with event types
/// it does not name. Schemas are checked and built once, when the plan is read; evaluating an event builds nothing.
/// </summary>
public sealed class TrackingPlan
{
    /// <summary>Most event types a plan may name.</summary>
    public const int MaxEventTypes = 1000;

    // A passing event (the common case) is checked with the cheapest output; only a failing one is evaluated again for its details.
    private static readonly EvaluationOptions Pass = new() { OutputFormat = OutputFormat.Flag, RequireFormatValidation = true };
    private static readonly EvaluationOptions Check = new() { OutputFormat = OutputFormat.List, RequireFormatValidation = true };
    private static readonly EvaluationOptions MetaCheck = new() { OutputFormat = OutputFormat.List };

    private static readonly string[] SchemaFields = ["properties", "traits"];

    private readonly Dictionary<string, PlannedEvent> _events;

    private TrackingPlan(PlanMode mode, UnplannedMode unplanned, Dictionary<string, PlannedEvent> events, IReadOnlyList<PlanViolation> warnings)
    {
        Mode = mode;
        Unplanned = unplanned;
        _events = events;
        Warnings = warnings;
    }

    /// <summary>The plan's mode, for the event types that do not set their own.</summary>
    public PlanMode Mode { get; }

    /// <summary>What happens to event types the plan does not name.</summary>
    public UnplannedMode Unplanned { get; }

    /// <summary>The event types the plan names.</summary>
    public IReadOnlyCollection<string> EventTypes => _events.Keys;

    /// <summary>What in the plan works but may cost time: patterns that may backtrack catastrophically (<see cref="PatternRisk"/>).</summary>
    public IReadOnlyList<PlanViolation> Warnings { get; }

    /// <summary>Reads and checks a plan document; every problem is a <see cref="PlanException"/> naming its path.</summary>
    public static TrackingPlan Parse(string json)
    {
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(json).RootElement;
        }
        catch (JsonException e)
        {
            throw new PlanException("$", $"not JSON ({e.Message})");
        }
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new PlanException("$", "a plan is a JSON object");
        }
        Known(root, "", "mode", "unplanned", "events", "description");
        var mode = Enum<PlanMode>(root, "mode", "", PlanMode.Flag);
        var unplanned = Enum<UnplannedMode>(root, "unplanned", "", UnplannedMode.Allow);
        if (!root.TryGetProperty("events", out var events) || events.ValueKind != JsonValueKind.Object)
        {
            throw new PlanException("events", "required: an object of event types, each with its schemas");
        }
        var planned = new Dictionary<string, PlannedEvent>(StringComparer.Ordinal);
        foreach (var type in events.EnumerateObject())
        {
            var path = $"events.{type.Name}";
            if (type.Name.Length == 0)
            {
                throw new PlanException("events", "an event type's name is empty");
            }
            if (type.Value.ValueKind != JsonValueKind.Object)
            {
                throw new PlanException(path, "an event type is an object: { \"properties\": schema, \"traits\": schema, \"mode\": \"flag\"|\"block\" }");
            }
            Known(type.Value, path, "mode", "properties", "traits", "description");
            planned[type.Name] = new PlannedEvent(
                Enum(type.Value, "mode", path, mode),
                Schema(type.Value, "properties", path),
                Schema(type.Value, "traits", path));
        }
        if (planned.Count > MaxEventTypes)
        {
            throw new PlanException("events", $"at most {MaxEventTypes} event types");
        }
        var warnings = events.EnumerateObject().SelectMany(type => SchemaFields
            .Where(field => type.Value.TryGetProperty(field, out _))
            .SelectMany(field => PatternRisk.Find(type.Value.GetProperty(field), $"events.{type.Name}.{field}")));
        return new TrackingPlan(mode, unplanned, planned, [.. warnings]);
    }

    /// <summary>
    /// What the plan says of an event of <paramref name="eventType"/> with these <c>properties</c> and <c>traits</c>,
    /// within <paramref name="budget"/> (the request's, shared by its events; one of its own if null). Never throws: a plan
    /// that cannot be evaluated gives a verdict with a <see cref="PlanVerdict.Unchecked"/>.
    /// </summary>
    public PlanVerdict Evaluate(string eventType, JsonElement? properties, JsonElement? traits, PlanBudget? budget = null)
    {
        if (!_events.TryGetValue(eventType, out var planned))
        {
            return Unplanned switch
            {
                UnplannedMode.Allow => PlanVerdict.Pass,
                var u => new PlanVerdict(u == UnplannedMode.Block, [new PlanViolation("eventType", $"'{eventType}' is not in the tracking plan")]),
            };
        }
        if (budget is { Spent: true })
        {
            return new PlanVerdict(false, [], $"the request spent its {PlanBudget.PerRequest.TotalMilliseconds:0} ms for the tracking plan");
        }
        var violations = new List<PlanViolation>();
        using (PlanBudget.StartNew(PlanBudget.PerEvent).Enter())
        {
            try
            {
                Evaluate(planned.Properties, properties, "properties", violations);
                Evaluate(planned.Traits, traits, "traits", violations);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A library fault must not refuse the event nor answer 5xx (docs/tracking-plan.md): it goes on unchecked.
                return new PlanVerdict(false, [], $"{e.GetType().Name}: {e.Message}", Failed: true);
            }
        }
        return violations.Count == 0 ? PlanVerdict.Pass : new PlanVerdict(planned.Mode == PlanMode.Block, violations);
    }

    private static void Evaluate(BoundedSchema? bounded, JsonElement? value, string field, List<PlanViolation> violations)
    {
        if (bounded is not var (schema, names))
        {
            return;
        }
        // An absent object is checked as an empty one: a schema that requires a property must see it missing.
        var instance = value is { ValueKind: JsonValueKind.Object } o ? o : EmptyObject;
        if (PlanDialect.PropertyNamesProblem(names, instance) is { } problem)
        {
            violations.Add(new PlanViolation(field, problem));
            return;
        }
        try
        {
            if (schema.Evaluate(instance, Pass).IsValid)
            {
                return;
            }
            foreach (var detail in schema.Evaluate(instance, Check).Details ?? [])
            {
                foreach (var (keyword, message) in detail.Errors ?? new Dictionary<string, string>())
                {
                    violations.Add(new PlanViolation(Path(field, detail.InstanceLocation.ToString()), keyword.Length == 0 ? message : $"{keyword}: {message}"));
                }
            }
        }
        catch (RegexMatchTimeoutException e)
        {
            // patternProperties' regexes, matched by the library's own handler (pattern and format report their own).
            violations.Add(new PlanViolation(field, $"patternProperties: the pattern '{e.Pattern}' did not finish within "
                + $"{e.MatchTimeout.TotalMilliseconds:0} ms on a property name (it may backtrack catastrophically)"));
        }
    }

    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement;

    // "/items/0/sku" under properties is "properties.items[0].sku" (JSON Pointer escapes undone).
    private static string Path(string field, string pointer) =>
        field + string.Concat(pointer.Split('/', StringSplitOptions.RemoveEmptyEntries)
            .Select(s => s.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal))
            .Select(s => s.All(char.IsAsciiDigit) ? $"[{s}]" : $".{s}"));

    private static BoundedSchema? Schema(JsonElement type, string name, string path)
    {
        if (!type.TryGetProperty(name, out var schema))
        {
            return null;
        }
        path = $"{path}.{name}";
        if (schema.ValueKind is not (JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False))
        {
            throw new PlanException(path, "a JSON Schema is an object (or true, or false)");
        }
        var meta = MetaSchemas.Draft202012.Evaluate(schema, MetaCheck);
        if (!meta.IsValid)
        {
            var (where, what) = (meta.Details ?? [])
                .SelectMany(d => (d.Errors ?? new Dictionary<string, string>()).Select(e => (d.InstanceLocation.ToString(), $"{e.Key}: {e.Value}")))
                .FirstOrDefault();
            throw new PlanException(path + where.Replace('/', '.'), $"not a valid JSON Schema 2020-12 ({what ?? "invalid"})");
        }
        if (RemoteReference(schema) is { } reference)
        {
            throw new PlanException(path, $"'{reference}' refers outside the plan; a plan's schemas may refer only within themselves (#...)");
        }
        SchemaGraph.Check(schema, path);
        try
        {
            // A registry of its own: the same $id in two plans, or two types, is not a conflict. Every regex bounded.
            return PlanDialect.Bound(JsonSchema.Build(schema, PlanDialect.Options()));
        }
        catch (Exception e) when (e is JsonSchemaException or JsonException or ArgumentException)
        {
            throw new PlanException(path, e.Message);
        }
    }

    private static string? RemoteReference(JsonElement schema) => schema.ValueKind switch
    {
        JsonValueKind.Object => schema.EnumerateObject()
            .Select(p => p.Name is "$ref" or "$dynamicRef" && p.Value.ValueKind == JsonValueKind.String && !p.Value.GetString()!.StartsWith('#')
                ? p.Value.GetString() : RemoteReference(p.Value))
            .FirstOrDefault(r => r is not null),
        JsonValueKind.Array => schema.EnumerateArray().Select(RemoteReference).FirstOrDefault(r => r is not null),
        _ => null,
    };

    private static void Known(JsonElement element, string path, params string[] names)
    {
        foreach (var property in element.EnumerateObject().Where(p => !names.Contains(p.Name)))
        {
            throw new PlanException(Join(path, property.Name), $"unknown field; the fields here are {string.Join(", ", names)}");
        }
    }

    private static T Enum<T>(JsonElement element, string name, string path, T fallback)
        where T : struct, Enum
    {
        if (!element.TryGetProperty(name, out var value))
        {
            return fallback;
        }
        var allowed = System.Enum.GetNames<T>().Select(n => n.ToLowerInvariant()).ToList();
        return value.ValueKind == JsonValueKind.String && allowed.Contains(value.GetString()!)
            ? System.Enum.Parse<T>(value.GetString()!, ignoreCase: true)
            : throw new PlanException(Join(path, name), $"one of {string.Join(", ", allowed)}");
    }

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    private sealed record PlannedEvent(PlanMode Mode, BoundedSchema? Properties, BoundedSchema? Traits);
}
