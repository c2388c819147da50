using System.Text.Json.Nodes;

namespace Pipeline.Processor;

/// <summary>
/// CloudWatch Embedded Metric Format lines (docs/architecture.md, D14): one JSON line on stdout per batch, which
/// CloudWatch turns into metrics with no agent and no API call. Hand-written because the EMF package
/// (Amazon.CloudWatch.EMF) is not obtainable here, and the format is a few fields.
/// </summary>
public static class EmbeddedMetrics
{
    /// <summary>The metric namespace.</summary>
    public const string Namespace = "EventPipeline";

    /// <summary>Writes counts and the batch duration as one EMF line.</summary>
    public static void Write(TextWriter log, TimeProvider clock, string? requestId, IReadOnlyDictionary<string, double> counts, double durationMilliseconds)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(counts);
        var metrics = new JsonArray([.. counts.Keys.Select(k => (JsonNode)new JsonObject { ["Name"] = k, ["Unit"] = "Count" }),
            new JsonObject { ["Name"] = "BatchDuration", ["Unit"] = "Milliseconds" }]);
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
            ["Function"] = "Processor",
            ["BatchDuration"] = Math.Round(durationMilliseconds, 1),
        };
        if (requestId is not null)
        {
            line["requestId"] = requestId; // a property, not a metric: finds the invocation's log lines
        }
        foreach (var (name, value) in counts)
        {
            line[name] = value;
        }
        log.WriteLine(line.ToJsonString());
    }
}
