using System.Globalization;
using System.Text.Json;

namespace Pipeline.Lambda;

/// <summary>
/// A function's log: JSON lines on stdout, each one top-level object, which CloudWatch Logs keeps as written
/// (docs/architecture.md, D14). Lambda's JSON log format wraps only what a runtime library's logger writes; a
/// program that runs its own Runtime API loop writes its lines itself. Levels below <c>AWS_LAMBDA_LOG_LEVEL</c>
/// (the template's ApplicationLogLevel) are dropped.
/// </summary>
public sealed class FunctionLog(TextWriter output, string function, string minimumLevel = "INFO")
{
    private static readonly string[] Levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    private readonly int _minimum = Math.Max(0, Array.IndexOf(Levels, minimumLevel.ToUpperInvariant()));

    /// <summary>A log for this process's function, on stdout, at the level Lambda's configuration gives.</summary>
    public static FunctionLog ForThisProcess(string function) =>
        new(Console.Out, function, System.Environment.GetEnvironmentVariable("AWS_LAMBDA_LOG_LEVEL") is { Length: > 0 } level ? level : "INFO");

    /// <summary>Where the lines go (an Embedded Metric Format line is written here as it is).</summary>
    public TextWriter Output => output;

    /// <summary>The invocation being served, named in every line until the next.</summary>
    public string? RequestId { get; set; }

    /// <summary>Writes one line at <paramref name="level"/> (TRACE, DEBUG, INFO, WARN, ERROR).</summary>
    public void Write(string level, string message)
    {
        if (Array.IndexOf(Levels, level) >= _minimum)
        {
            output.WriteLine(Line(level, message, RequestId, function));
        }
    }

    /// <summary>One log line: timestamp, level, message, requestId, function.</summary>
    public static string Line(string level, string message, string? requestId, string? function = null)
    {
        var line = new Dictionary<string, string>
        {
            ["timestamp"] = TimeProvider.System.GetUtcNow().ToString("O", CultureInfo.InvariantCulture),
            ["level"] = level,
            ["message"] = message,
        };
        if (requestId is not null)
        {
            line["requestId"] = requestId;
        }
        if (function is not null)
        {
            line["function"] = function;
        }
        return JsonSerializer.Serialize(line, LogJsonContext.Default.DictionaryStringString);
    }
}

/// <summary>Source-generated JSON for log lines.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class LogJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
