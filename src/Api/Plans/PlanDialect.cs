using System.Text.Json;
using System.Text.RegularExpressions;
using Json.Schema;
using Json.Schema.Keywords;

namespace Pipeline.Api.Plans;

/// <summary>
/// JSON Schema 2020-12 as JsonSchema.Net evaluates it, with every regular expression bounded (docs/tracking-plan.md).
/// JsonSchema.Net builds <c>pattern</c> and <c>patternProperties</c> as backtracking ECMAScript regexes with no match
/// timeout, and .NET's non-backtracking engine refuses ECMAScript; so the plan's regexes are rebuilt with
/// <see cref="PlanBudget.MatchTimeout"/>, and <c>pattern</c> and <c>format</c> check the request's budget before they run
/// and report a timeout as a violation of their rule. Hand-written because the library has no match-timeout option.
/// </summary>
internal static class PlanDialect
{
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
    /// Gives every regular expression of <paramref name="schema"/> the match timeout, in whatever keyword handler built it
    /// (a subschema's <c>$schema</c> can name another dialect); <c>patternProperties</c> cannot be replaced by a handler of
    /// ours (the library finds it by type), so its regexes are replaced where it keeps them.
    /// </summary>
    public static JsonSchema Bound(JsonSchema schema)
    {
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
                foreach (var subschema in keyword.Subschemas ?? [])
                {
                    pending.Push(subschema);
                }
            }
        }
        return schema;
    }

    private static Regex Bounded(Regex regex) =>
        regex.MatchTimeout == PlanBudget.MatchTimeout ? regex : new Regex(regex.ToString(), regex.Options, PlanBudget.MatchTimeout);

    private static Dialect Create()
    {
        Vocabulary[] vocabularies = [Vocabulary.Draft202012_Core, Vocabulary.Draft202012_Applicator, Vocabulary.Draft202012_Unevaluated,
            Vocabulary.Draft202012_Validation, Vocabulary.Draft202012_MetaData, Vocabulary.Draft202012_FormatAnnotation, Vocabulary.Draft202012_Content];
        var handlers = vocabularies.SelectMany(v => v.Keywords).Select(k => k.Name switch
        {
            "pattern" => new BoundedPattern(),
            "format" => new BoundedFormat(),
            _ => k,
        });
        var standard = Dialect.Draft202012;
        return new Dialect(handlers) { Id = standard.Id, RefIgnoresSiblingKeywords = standard.RefIgnoresSiblingKeywords, AllowUnknownKeywords = standard.AllowUnknownKeywords };
    }

    /// <summary>The violation of a check skipped because the request spent its budget.</summary>
    public static readonly string NotChecked =
        $"not checked: this request spent its {PlanBudget.PerRequest.TotalMilliseconds:0} ms for the tracking plan (slow patterns)";

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
}
