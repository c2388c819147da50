using System.Text.Json;
using Pipeline.Events;

namespace Pipeline.Plans;

/// <summary>
/// Finds the regular expressions of a plan that may backtrack catastrophically: a repeated group that itself holds a
/// repetition (<c>(a+)+</c>, <c>(\w+\s?)*</c>) or alternatives (<c>(a|aa)+</c>). A heuristic, so a warning and never a
/// refusal: it can flag a safe pattern (<c>(-[a-z]+)*</c>) and miss an unsafe one; every match is bounded anyway
/// (<see cref="PlanBudget"/>). Hand-written: no served package analyses ECMAScript regexes for this.
/// </summary>
public static class PatternRisk
{
    private static readonly string[] Literal = ["enum", "const", "default", "examples"];

    private static readonly string[] Maps = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"];

    /// <summary>Each risky <c>pattern</c> or <c>patternProperties</c> key under <paramref name="schema"/>, with its path.</summary>
    public static IEnumerable<PlanViolation> Find(JsonElement schema, string path)
    {
        if (schema.ValueKind == JsonValueKind.Array)
        {
            var i = 0;
            foreach (var item in schema.EnumerateArray())
            {
                foreach (var warning in Find(item, $"{path}[{i++}]"))
                {
                    yield return warning;
                }
            }
            yield break;
        }
        if (schema.ValueKind != JsonValueKind.Object)
        {
            yield break;
        }
        foreach (var member in schema.EnumerateObject().Where(m => !Literal.Contains(m.Name)))
        {
            var at = $"{path}.{member.Name}";
            if (member.Name == "pattern" && member.Value.ValueKind == JsonValueKind.String && Why(member.Value.GetString()!) is { } why)
            {
                yield return new PlanViolation(at, $"'{member.Value.GetString()}' may backtrack catastrophically: {why}");
            }
            if (member.Name == "patternProperties" && member.Value.ValueKind == JsonValueKind.Object)
            {
                foreach (var key in member.Value.EnumerateObject().Where(k => Why(k.Name) is not null))
                {
                    yield return new PlanViolation($"{at}.{key.Name}", $"'{key.Name}' may backtrack catastrophically: {Why(key.Name)}");
                }
            }
            // In a map of schemas (properties, $defs ...) the names are the user's, not keywords: each value is a schema.
            var values = Maps.Contains(member.Name) && member.Value.ValueKind == JsonValueKind.Object
                ? member.Value.EnumerateObject().Select(e => (Path: $"{at}.{e.Name}", e.Value))
                : [(Path: at, member.Value)];
            foreach (var (valuePath, value) in values)
            {
                foreach (var warning in Find(value, valuePath))
                {
                    yield return warning;
                }
            }
        }
    }

    /// <summary>Why <paramref name="pattern"/> may backtrack catastrophically, or null if this heuristic sees no reason.</summary>
    public static string? Why(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        // For each open group: whether it holds a repetition, and whether it holds alternatives.
        var groups = new Stack<(bool Repeats, bool Alternates)>();
        var (repeats, alternates) = (false, false); // of the current level
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            switch (c)
            {
                case '\\':
                    i++;
                    repeats |= IsRepetition(pattern, i + 1);
                    break;
                case '[':
                    i = ClassEnd(pattern, i);
                    repeats |= IsRepetition(pattern, i + 1);
                    break;
                case '*' or '+' or '?':
                    break; // a quantifier, counted with its atom
                case '{' when pattern.IndexOf('}', i) > i:
                    i = pattern.IndexOf('}', i);
                    break;
                case '(':
                    groups.Push((repeats, alternates));
                    (repeats, alternates) = (false, false);
                    break;
                case ')' when groups.Count > 0:
                    var (inner, innerAlternates) = (repeats, alternates);
                    (repeats, alternates) = groups.Pop();
                    if (IsRepetition(pattern, i + 1))
                    {
                        if (inner)
                        {
                            return "a repeated group holds a repetition (nested quantifiers)";
                        }
                        if (innerAlternates)
                        {
                            return "a repeated group holds alternatives that can match the same text";
                        }
                    }
                    repeats |= inner || IsRepetition(pattern, i + 1);
                    break;
                case '|':
                    alternates = true;
                    break;
                default:
                    repeats |= IsRepetition(pattern, i + 1);
                    break;
            }
        }
        return null;
    }

    // True if a quantifier that can repeat more than once starts at i: *, +, {n} with n > 1, {n,}, {n,m} with m > 1.
    private static bool IsRepetition(string pattern, int i)
    {
        if (i >= pattern.Length)
        {
            return false;
        }
        if (pattern[i] is '*' or '+')
        {
            return true;
        }
        if (pattern[i] != '{')
        {
            return false;
        }
        var end = pattern.IndexOf('}', i);
        if (end < 0)
        {
            return false;
        }
        var bounds = pattern[(i + 1)..end].Split(',');
        var most = bounds[^1];
        return most.Length == 0 ? bounds.Length == 2 : int.TryParse(most, out var times) && times > 1;
    }

    private static int ClassEnd(string pattern, int start)
    {
        for (var i = start + 1; i < pattern.Length; i++)
        {
            if (pattern[i] == '\\')
            {
                i++;
            }
            else if (pattern[i] == ']' && i > start + 1)
            {
                return i;
            }
        }
        return pattern.Length;
    }
}
