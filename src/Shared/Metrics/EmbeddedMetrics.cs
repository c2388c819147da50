using System.Text.Json.Nodes;

namespace Pipeline.Metrics;

/// <summary>
/// CloudWatch Embedded Metric Format lines (docs/architecture.md, D14): one JSON line on stdout, which CloudWatch turns
/// into metrics with no agent and no API call. Hand-written because the EMF package (Amazon.CloudWatch.EMF) is not
/// obtainable here, and the format is a few fields.
/// </summary>
public static class EmbeddedMetrics
{
    /// <summary>The metric namespace.</summary>
    public const string Namespace = "EventPipeline";

    /// <summary>
    /// Writes <paramref name="counts"/> and <paramref name="milliseconds"/> as metrics of <paramref name="function"/>
    /// (the dimension <c>Function</c>), and <paramref name="properties"/> as searchable fields that are not metrics.
    /// </summary>
    public static void Write(TextWriter log, TimeProvider clock, string function, IReadOnlyDictionary<string, double> counts,
        IReadOnlyDictionary<string, double>? milliseconds = null, IReadOnlyDictionary<string, string>? properties = null)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(counts);
        milliseconds ??= new Dictionary<string, double>();
        var metrics = new JsonArray([
            .. counts.Keys.Select(k => (JsonNode)new JsonObject { ["Name"] = k, ["Unit"] = "Count" }),
            .. milliseconds.Keys.Select(k => (JsonNode)new JsonObject { ["Name"] = k, ["Unit"] = "Milliseconds" })]);
        var line = new JsonObject
        {
            ["_aws"] = new JsonObject
            {
                ["Timestamp"] = clock.GetUtcNow().ToUnixTimeMilliseconds(),
                ["CloudWatchMetrics"] = new JsonArray(new JsonObject
                {
                    ["Namespace"] = Namespace,
                    ["Dimensions"] = new JsonArray(new JsonArray("Function")),
                    ["Metrics"] = metrics,
                }),
            },
            ["Function"] = function,
        };
        foreach (var (name, value) in properties ?? new Dictionary<string, string>())
        {
            line[name] = value;
        }
        foreach (var (name, value) in counts)
        {
            line[name] = value;
        }
        foreach (var (name, value) in milliseconds)
        {
            line[name] = Math.Round(value, 1);
        }
        log.WriteLine(line.ToJsonString());
    }
}
