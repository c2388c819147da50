using System.Text.Json;
using System.Text.RegularExpressions;
using Json.Schema;
using Json.Schema.Keywords;

namespace Pipeline.Plans;

/// <summary>A built schema with every regex bounded, and the regexes its <c>patternProperties</c> match property names with.</summary>
/// <param name="Schema">The schema.</param>
/// <param name="PropertyNames">The <c>patternProperties</c> regexes, anywhere in it.</param>
internal sealed record BoundedSchema(JsonSchema Schema, IReadOnlyList<Regex> PropertyNames);

/// <summary>
/// JSON Schema 2020-12 as JsonSchema.Net evaluates it, with every regular expression bounded (docs/tracking-plan.md).
/// JsonSchema.Net builds <c>pattern</c> and <c>patternProperties</c> as backtracking ECMAScript regexes with no match
/// timeout, and .NET's non-backtracking engine refuses ECMAScript; so the plan's regexes are rebuilt with
/// <see cref="PlanBudget.MatchTimeout"/>, and <c>pattern</c> and <c>format</c> check the request's budget before they run
/// and report a timeout as a violation of their rule. Hand-written because the library has no match-timeout option.
/// </summary>
internal static class PlanDialect
{
    /// <summary>The dialect's id, the only <c>$schema</c> a plan may name.</summary>
    public static Uri Id => Dialect.Draft202012.Id!;

    /// <summary>The dialect plans are built with: 2020-12's keywords, with <c>pattern</c> and <c>format</c> bounded.</summary>
    public static Dialect Draft202012 { get; } = Create();

    /// <summary>Build options with <see cref="Draft202012"/> for every schema, whatever its <c>$schema</c> says.</summary>
    public static BuildOptions Options()
    {
        var dialects = new DialectRegistry();
        dialects.Register(Draft202012);
        return new BuildOptions { SchemaRegistry = new SchemaRegistry(), Dialect = Draft202012, DialectRegistry = dialects };
    }

    /// <summary>
    /// Gives every regular expression of <paramref name="schema"/> the match timeout. <c>patternProperties</c> cannot be
    /// replaced by a handler of ours (the library finds it by type), so its regexes are replaced where it keeps them, and
    /// returned, for <see cref="PropertyNamesProblem"/> to charge their cost to the event before the library runs them.
    /// </summary>
    public static BoundedSchema Bound(JsonSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var names = new List<Regex>();
        var seen = new HashSet<JsonSchemaNode>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<JsonSchemaNode>([schema.Root]);
        while (pending.TryPop(out var node))
        {
            if (node is null || !seen.Add(node))
            {
                continue;
            }
            foreach (var keyword in node.Keywords ?? [])
            {
                keyword.Value = keyword.Value switch
                {
                    Regex regex => Bounded(regex),
                    Dictionary<string, Regex> patterns => patterns.ToDictionary(p => p.Key, p => Bounded(p.Value), StringComparer.Ordinal),
                    var other => other,
                };
                if (keyword.Value is Dictionary<string, Regex> bounded)
                {
                    names.AddRange(bounded.Values);
                }
                foreach (var subschema in keyword.Subschemas ?? [])
                {
                    pending.Push(subschema);
                }
            }
        }
        return new BoundedSchema(schema, names);
    }

    /// <summary>
    /// Matches every property name of <paramref name="instance"/>, at any depth, against the plan's <c>patternProperties</c>
    /// within the event's budget; the problem (a violation's message) if that ran out or took more than
    /// <see cref="PlanBudget.PropertyNames"/>, so the library's own matches of the same names (twice at most) stay cheap.
    /// </summary>
    public static string? PropertyNamesProblem(IReadOnlyList<Regex> patterns, JsonElement instance)
    {
        if (patterns.Count == 0)
        {
            return null;
        }
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var pending = new Stack<JsonElement>([instance]);
        while (pending.TryPop(out var element))
        {
            var children = element.ValueKind switch
            {
                JsonValueKind.Object => element.EnumerateObject().Select(p => (Name: (string?)p.Name, p.Value)),
                JsonValueKind.Array => element.EnumerateArray().Select(v => (Name: (string?)null, Value: v)),
                _ => [],
            };
            foreach (var (name, value) in children)
            {
                pending.Push(value);
                foreach (var pattern in name is null ? [] : patterns)
                {
                    if (PlanBudget.Current is { Spent: true } || System.Diagnostics.Stopwatch.GetElapsedTime(started) > PlanBudget.PropertyNames)
                    {
                        return $"patternProperties: not checked: the property names took over {PlanBudget.PropertyNames.TotalMilliseconds:0} ms to match";
                    }
                    try
                    {
                        pattern.IsMatch(name!);
                    }
                    catch (RegexMatchTimeoutException e)
                    {
                        return $"patternProperties: the pattern '{e.Pattern}' did not finish within {e.MatchTimeout.TotalMilliseconds:0} ms on a property name "
                            + "(it may backtrack catastrophically)";
                    }
                }
            }
        }
        return null;
    }

    private static Regex Bounded(Regex regex) =>
        regex.MatchTimeout == PlanBudget.MatchTimeout ? regex : new Regex(regex.ToString(), regex.Options, PlanBudget.MatchTimeout);

    private static Dialect Create()
    {
        Vocabulary[] vocabularies = [Vocabulary.Draft202012_Core, Vocabulary.Draft202012_Applicator, Vocabulary.Draft202012_Unevaluated,
            Vocabulary.Draft202012_Validation, Vocabulary.Draft202012_MetaData, Vocabulary.Draft202012_FormatAnnotation, Vocabulary.Draft202012_Content];
        // The library's 2020-12 applicator vocabulary lacks `then`, which its own 2020-12 dialect has: added.
        var handlers = vocabularies.SelectMany(v => v.Keywords).Append(ThenKeyword.Instance).DistinctBy(k => k.Name).Select(k => k.Name switch
        {
            "pattern" => new BoundedPattern(),
            "format" => new BoundedFormat(),
            _ => k,
        });
        var standard = Dialect.Draft202012;
        return new Dialect(handlers) { Id = standard.Id, RefIgnoresSiblingKeywords = standard.RefIgnoresSiblingKeywords, AllowUnknownKeywords = standard.AllowUnknownKeywords };
    }

    /// <summary>The violation of a check skipped because the event spent its budget.</summary>
    public static readonly string NotChecked =
        $"not checked: this event spent its {PlanBudget.PerEvent.TotalMilliseconds:0} ms for the tracking plan's patterns";

    // What a regex-based keyword reports when the request's budget is spent, or when its match ran out of time.
    private static KeywordEvaluation? Refused(string keyword) => PlanBudget.Current is { Spent: true }
        ? new KeywordEvaluation { Keyword = keyword, IsValid = false, Error = NotChecked }
        : null;

    private static KeywordEvaluation TimedOut(string keyword, RegexMatchTimeoutException e) => new()
    {
        Keyword = keyword,
        IsValid = false,
        Error = $"the pattern '{e.Pattern}' did not finish within {e.MatchTimeout.TotalMilliseconds:0} ms on this value (it may backtrack catastrophically)",
    };

    // The regex format builds a regex from the client's value, which can cost seconds and gigabytes for a short value of
    // nested counted groups ("((a){2}){2}..."): only short, shallow ones are built.
    private static bool Buildable(string value)
    {
        if (value.Length > BoundedFormat.MaxRegexLength)
        {
            return false;
        }
        var (depth, deepest) = (0, 0);
        for (var i = 0; i < value.Length; i++)
        {
            switch (value[i])
            {
                case '\\':
                    i++;
                    break;
                case '(':
                    deepest = Math.Max(deepest, ++depth);
                    break;
                case ')':
                    depth--;
                    break;
            }
        }
        return deepest <= BoundedFormat.MaxRegexDepth;
    }

    private sealed class BoundedPattern : PatternKeyword
    {
        public override object? ValidateKeywordValue(JsonElement value) => base.ValidateKeywordValue(value) is var built && built is Regex regex ? Bounded(regex) : built;

        public override KeywordEvaluation Evaluate(KeywordData data, EvaluationContext context)
        {
            if (context.Instance.ValueKind == JsonValueKind.String && Refused(Name) is { } refused)
            {
                return refused;
            }
            try
            {
                return base.Evaluate(data, context);
            }
            catch (RegexMatchTimeoutException e)
            {
                return TimedOut(Name, e);
            }
        }
    }

    private sealed class BoundedFormat() : Json.Schema.Keywords.Draft06.FormatKeyword(false)
    {
        /// <summary>Longest value, and deepest group nesting, the <c>regex</c> format builds a regex from (building one is not bounded by a match timeout).</summary>
        public const int MaxRegexLength = 512, MaxRegexDepth = 8;

        public override KeywordEvaluation Evaluate(KeywordData data, EvaluationContext context)
        {
            if (context.Instance.ValueKind == JsonValueKind.String && Refused(Name) is { } refused)
            {
                return refused;
            }
            if (data.RawValue is { ValueKind: JsonValueKind.String } name && name.ValueEquals("regex") && context.Instance.ValueKind == JsonValueKind.String
                && !Buildable(context.Instance.GetString()!))
            {
                return new KeywordEvaluation
                {
                    Keyword = Name,
                    IsValid = false,
                    Error = $"not checked: a regex to check is at most {MaxRegexLength} characters and {MaxRegexDepth} groups deep",
                };
            }
            try
            {
                return base.Evaluate(data, context);
            }
            catch (RegexMatchTimeoutException e)
            {
                return TimedOut(Name, e);
            }
        }
    }
}
