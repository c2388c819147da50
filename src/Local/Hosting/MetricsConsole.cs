using System.Text;
using System.Text.Json.Nodes;

namespace Pipeline.Local.Hosting;

/// <summary>
/// The Processor's output for a person at a terminal: each Embedded Metric Format line (which CloudWatch would turn
/// into metrics) becomes one short line; everything else passes through.
/// </summary>
public sealed class MetricsConsole(Action<string> say) : TextWriter
{
    /// <inheritdoc />
    public override Encoding Encoding => Encoding.UTF8;

    /// <inheritdoc />
    public override void WriteLine(string? value)
    {
        if (value is null)
        {
            return;
        }
        if (value.Contains("\"_aws\"", StringComparison.Ordinal) && JsonNode.Parse(value) is JsonObject m)
        {
            say(FormattableString.Invariant(
                $"Processor: batch stored {m["Processed"]}, duplicates {m["Duplicates"]}, rejected {m["Rejected"]}, failed {m["Failed"]} ({m["BatchDuration"]} ms)"));
            return;
        }
        say(value);
    }
}
