using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pipeline.Local.Lambda;

/// <summary>
/// A function's or the Api's process output, for a person at a terminal: each Processor batch's Embedded Metric Format line (which CloudWatch would
/// turn into metrics) becomes one short line, warnings and errors are shown with the function's name, and the rest
/// (information lines, successful REPORT lines) is left out.
/// </summary>
public static class FunctionConsole
{
    /// <summary>A writer of <paramref name="function"/>'s lines to <paramref name="say"/>.</summary>
    public static Action<string> For(string function, Action<string> say) => line =>
    {
        if (Format(function, line) is { } shown)
        {
            say(shown);
        }
    };

    /// <summary>The line to show for one line of output, or null to leave it out.</summary>
    public static string? Format(string function, string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        if (line.StartsWith("REPORT ", StringComparison.Ordinal))
        {
            return line.Contains(" Error: ", StringComparison.Ordinal) ? $"{function}: {line}" : null;
        }
        if (!line.StartsWith('{'))
        {
            return $"{function}: {line}";
        }
        JsonObject? json;
        try
        {
            json = JsonNode.Parse(line) as JsonObject;
        }
        catch (JsonException)
        {
            return $"{function}: {line}";
        }
        if (json is null)
        {
            return null;
        }
        if (json.ContainsKey("_aws"))
        {
            if (!json.ContainsKey("Processed"))
            {
                return null; // not a Processor batch's: the Aggregator's run, which the schedule reports itself
            }
            return string.Create(CultureInfo.InvariantCulture,
                $"{function}: batch stored {json["Processed"]}, duplicates {json["Duplicates"]}, rejected {json["Rejected"]}, "
                + $"failed {json["Failed"]} ({json["BatchDuration"]} ms)");
        }
        if (json["level"]?.ToString() is "WARN" or "ERROR" or "FATAL")
        {
            return $"{function} {json["level"]}: {json["message"]}";
        }
        // ASP.NET Core's JSON console (the Api): LogLevel and Message.
        return json["LogLevel"]?.ToString() is "Warning" or "Error" or "Critical" ? $"{function} {json["LogLevel"]}: {json["Message"]}" : null;
    }
}
