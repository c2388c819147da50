using System.CommandLine;
using System.Globalization;

namespace Pipeline.Cli;

/// <summary>Options of the types System.CommandLine does not parse itself, with an error naming the option.</summary>
public static class TypedOptions
{
    /// <summary>An option <paramref name="name"/> that takes an absolute URL.</summary>
    public static Option<Uri?> Url(string name, string description, Uri? defaultValue = null)
    {
        var option = new Option<Uri?>(name)
        {
            Description = description,
            HelpName = "URL",
            CustomParser = r =>
            {
                if (Uri.TryCreate(r.Tokens[0].Value, UriKind.Absolute, out var url))
                {
                    return url;
                }
                r.AddError($"{name} needs an absolute URL, not '{r.Tokens[0].Value}'.");
                return null;
            },
        };
        if (defaultValue is not null)
        {
            option.DefaultValueFactory = _ => defaultValue;
        }
        return option;
    }

    /// <summary>An option <paramref name="name"/> that takes an ISO-8601 time (UTC unless it says otherwise).</summary>
    public static Option<DateTimeOffset?> Time(string name, string description, bool required = false) => new(name)
    {
        Description = description,
        HelpName = "TIME",
        Required = required,
        CustomParser = r =>
        {
            if (Parse(r.Tokens[0].Value) is { } time)
            {
                return time;
            }
            r.AddError($"{name} needs an ISO-8601 time (e.g. 2026-11-24T10:00Z), not '{r.Tokens[0].Value}'.");
            return null;
        },
    };

    /// <summary>Refuses <paramref name="command"/> when both times are given and <paramref name="from"/> is not before <paramref name="to"/>.</summary>
    public static void RequireOrder(Command command, Option<DateTimeOffset?> from, Option<DateTimeOffset?> to)
    {
        ArgumentNullException.ThrowIfNull(command);
        command.Validators.Add(r =>
        {
            // From the tokens: a value that did not parse has its own error, and GetValue would throw on it.
            if (Parse(r.GetResult(from)?.Tokens is [var first, ..] ? first.Value : null) is { } start
                && Parse(r.GetResult(to)?.Tokens is [var last, ..] ? last.Value : null) is { } end && start >= end)
            {
                r.AddError($"{from.Name} must be before {to.Name}.");
            }
        });
    }

    /// <summary>The range a command's <paramref name="from"/> and <paramref name="to"/> give: to defaults to now, from to <paramref name="span"/> before it.</summary>
    public static (DateTimeOffset Start, DateTimeOffset End) Range(
        ParseResult result, Option<DateTimeOffset?> from, Option<DateTimeOffset?> to, TimeSpan span)
    {
        ArgumentNullException.ThrowIfNull(result);
        var end = result.GetValue(to) ?? TimeProvider.System.GetUtcNow();
        return (result.GetValue(from) ?? end - span, end);
    }

    private static DateTimeOffset? Parse(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time.ToUniversalTime() : null;
}
