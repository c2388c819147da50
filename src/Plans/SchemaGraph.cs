using System.Text.Json;

namespace Pipeline.Plans;

/// <summary>
/// Checks a plan's schema as a graph before it is built, refusing what would make evaluation fail at run time: a
/// <c>$schema</c> other than 2020-12 (its keywords would escape the plan's bounds), a <c>$id</c> below the root (it
/// would change what references name), a reference that resolves to
/// nothing, and a cycle of references and in-place applicators (<c>allOf</c>, <c>not</c>, <c>if</c> ...) that never
/// moves into the event, which recurses until the process's stack overflows: no exception handler can catch that.
/// JsonSchema.Net detects only cycles of references alone. Hand-written: no served package checks this.
/// </summary>
internal static class SchemaGraph
{
    // Keywords whose subschemas apply to the same value (in place), and those that move into the value (not edges).
    private static readonly string[] InPlaceOne = ["not", "if", "then", "else"];
    private static readonly string[] InPlaceMany = ["allOf", "anyOf", "oneOf"];
    private static readonly string[] InPlaceMap = ["dependentSchemas"];
    private static readonly string[] DescendOne = ["additionalProperties", "items", "contains", "propertyNames", "unevaluatedProperties", "unevaluatedItems", "contentSchema"];
    private static readonly string[] DescendMany = ["prefixItems"];
    private static readonly string[] DescendMap = ["properties", "patternProperties", "$defs", "definitions"];

    /// <summary>Throws a <see cref="PlanException"/> naming the path of the first problem.</summary>
    public static void Check(JsonElement root, string path)
    {
        var nodes = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        var anchors = new Dictionary<string, string>(StringComparer.Ordinal);
        Collect(root, "", nodes, anchors, path);
        var edges = nodes.ToDictionary(n => n.Key, n => InPlace(n.Value, n.Key, nodes, anchors, path).ToList(), StringComparer.Ordinal);
        var state = new Dictionary<string, bool>(StringComparer.Ordinal); // false: on the current path; true: done
        foreach (var node in nodes.Keys)
        {
            Visit(node, edges, state, path);
        }
    }

    private static void Collect(JsonElement schema, string pointer, Dictionary<string, JsonElement> nodes, Dictionary<string, string> anchors, string path)
    {
        if (schema.ValueKind != JsonValueKind.Object || !nodes.TryAdd(pointer, schema))
        {
            return;
        }
        foreach (var member in schema.EnumerateObject())
        {
            var at = $"{pointer}/{member.Name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal)}";
            switch (member.Name)
            {
                case "$schema" when member.Value.ValueKind != JsonValueKind.String || member.Value.GetString()!.TrimEnd('#') != PlanDialect.Id.ToString().TrimEnd('#'):
                    throw new PlanException(Join(path, pointer, "$schema"), $"a plan's schemas are JSON Schema 2020-12 ({PlanDialect.Id}); other drafts are not accepted");
                case "$id" when pointer.Length > 0:
                    throw new PlanException(
                        Join(path, pointer, "$id"), "a subschema may not set $id (it would change what its references name); use $defs and #/$defs/... references");
                case "$anchor" or "$dynamicAnchor" when member.Value.ValueKind == JsonValueKind.String:
                    anchors.TryAdd(member.Value.GetString()!, pointer);
                    break;
                case var name when InPlaceOne.Contains(name) || DescendOne.Contains(name):
                    Collect(member.Value, at, nodes, anchors, path);
                    break;
                case var name when (InPlaceMany.Contains(name) || DescendMany.Contains(name)) && member.Value.ValueKind == JsonValueKind.Array:
                    var i = 0;
                    foreach (var item in member.Value.EnumerateArray())
                    {
                        Collect(item, $"{at}/{i++}", nodes, anchors, path);
                    }
                    break;
                case var name when (InPlaceMap.Contains(name) || DescendMap.Contains(name)) && member.Value.ValueKind == JsonValueKind.Object:
                    foreach (var entry in member.Value.EnumerateObject())
                    {
                        Collect(entry.Value, $"{at}/{entry.Name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal)}", nodes, anchors, path);
                    }
                    break;
            }
        }
    }

    // The schemas that apply to the same value as the one at pointer: its references and in-place applicators.
    private static IEnumerable<string> InPlace(JsonElement schema, string pointer, Dictionary<string, JsonElement> nodes, Dictionary<string, string> anchors, string path)
    {
        foreach (var member in schema.EnumerateObject())
        {
            var at = $"{pointer}/{member.Name}";
            if (member.Name is "$ref" or "$dynamicRef" && member.Value.ValueKind == JsonValueKind.String)
            {
                yield return Resolve(member.Value.GetString()!, nodes, anchors) ?? throw new PlanException(Join(path, pointer, member.Name),
                    $"'{member.Value.GetString()}' refers to nothing in this schema");
            }
            else if (InPlaceOne.Contains(member.Name) && member.Value.ValueKind == JsonValueKind.Object)
            {
                yield return at;
            }
            else if (InPlaceMany.Contains(member.Name) && member.Value.ValueKind == JsonValueKind.Array)
            {
                for (var i = 0; i < member.Value.GetArrayLength(); i++)
                {
                    yield return $"{at}/{i}";
                }
            }
            else if (InPlaceMap.Contains(member.Name) && member.Value.ValueKind == JsonValueKind.Object)
            {
                foreach (var entry in member.Value.EnumerateObject())
                {
                    yield return $"{at}/{entry.Name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal)}";
                }
            }
        }
    }

    // "#", "#/json/pointer" or "#anchor", within the schema; null if it names nothing there.
    private static string? Resolve(string reference, Dictionary<string, JsonElement> nodes, Dictionary<string, string> anchors)
    {
        var fragment = Uri.UnescapeDataString(reference.StartsWith('#') ? reference[1..] : reference);
        if (fragment.Length == 0 || fragment.StartsWith('/'))
        {
            return nodes.ContainsKey(fragment) ? fragment : null;
        }
        return anchors.GetValueOrDefault(fragment);
    }

    private static void Visit(string node, Dictionary<string, List<string>> edges, Dictionary<string, bool> state, string path)
    {
        if (state.TryGetValue(node, out var done))
        {
            if (!done)
            {
                throw new PlanException(
                    Join(path, node, ""),
                    "refers back to itself without moving into the event (through $ref, allOf, anyOf, oneOf, not, if, then, else or dependentSchemas), "
                    + "which would never end");
            }
            return;
        }
        state[node] = false;
        foreach (var next in edges.GetValueOrDefault(node) ?? [])
        {
            Visit(next, edges, state, path);
        }
        state[node] = true;
    }

    private static string Join(string path, string pointer, string name) =>
        path + string.Concat(pointer.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(s => $".{s}")) + (name.Length == 0 ? "" : $".{name}");
}
