using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Pipeline.Storage;

/// <summary>
/// What DynamoDB refuses in a JSON document stored as attribute values (the events' <c>properties</c> map), so the Api can
/// refuse it at the door: an event it accepts must be storable (docs/architecture.md, D11). From the DynamoDB Developer
/// Guide ("Supported data types", "Quotas") and each confirmed against DynamoDB Local: a number has at most 38 significant
/// digits and a magnitude from 1E-130 to below 1E+126 (or is zero); a map key is not empty; strings are valid Unicode.
/// Nesting (32 levels) and item size (400 KB) are far above the Api's own limits.
/// </summary>
public static class DynamoDbLimits
{
    /// <summary>Most significant digits of a number.</summary>
    public const int MaxDigits = 38;

    /// <summary>The smallest and largest decimal exponent of a number's leading digit (1E-130 to 9.99…E+125).</summary>
    public const int MinExponent = -130, MaxExponent = 125;

    /// <summary>The first thing DynamoDB would refuse in <paramref name="value"/>, as a message naming its path; null if it can be stored.</summary>
    public static string? Problem(JsonElement value, string path)
    {
        // The path is built only for a problem: this runs for every accepted event, and most have none.
        List<string>? trail = null;
        return Find(value, ref trail) is { } reason ? $"'{path}{string.Concat((trail ?? []).AsEnumerable().Reverse())}' {reason}" : null;
    }

    // The problem in value, if any; trail gets the path segments from the problem up to value, innermost first (created
    // only then).
    private static string? Find(JsonElement value, ref List<string>? trail)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                {
                    var raw = JsonMarshal.GetRawUtf8PropertyName(property);
                    if (raw.IsEmpty)
                    {
                        return "has an empty property name, which DynamoDB cannot store.";
                    }
                    // Only an escape (\u) can make an unpaired surrogate: the reader has checked the UTF-8 itself.
                    if (raw.IndexOf("\\u"u8) >= 0 && Text(property) is null)
                    {
                        return "has a property name that is not valid Unicode (an unpaired surrogate).";
                    }
                    if (Find(property.Value, ref trail) is { } problem)
                    {
                        (trail ??= []).Add($".{property.Name}");
                        return problem;
                    }
                }
                return null;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in value.EnumerateArray())
                {
                    if (Find(item, ref trail) is { } problem)
                    {
                        (trail ??= []).Add(string.Create(CultureInfo.InvariantCulture, $"[{i}]"));
                        return problem;
                    }
                    i++;
                }
                return null;
            case JsonValueKind.String:
                return JsonMarshal.GetRawUtf8Value(value).IndexOf("\\u"u8) >= 0 && Text(value) is null ? "is not valid Unicode (an unpaired surrogate)." : null;
            case JsonValueKind.Number:
                return NumberProblem(JsonMarshal.GetRawUtf8Value(value));
            default:
                return null;
        }
    }

    /// <summary>True if <paramref name="text"/> has no unpaired surrogate (DynamoDB stores strings as UTF-8).</summary>
    public static bool IsValidUnicode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return false;
            }
        }
        return true;
    }

    // System.Text.Json refuses to unescape an unpaired surrogate (\ud800) into a string, and says so by throwing.
    private static string? Text(JsonProperty property)
    {
        try
        {
            return IsValidUnicode(property.Name) ? property.Name : null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static string? Text(JsonElement value)
    {
        try
        {
            return value.GetString() is { } text && IsValidUnicode(text) ? text : null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    // A JSON number's text, -?int(.frac)?([eE][+-]?exp)?, read in place: this runs for every number of every accepted event.
    private static string? NumberProblem(ReadOnlySpan<byte> number)
    {
        var text = number.TrimStart((byte)'-');
        var e = text.IndexOfAny((byte)'e', (byte)'E');
        var mantissa = e < 0 ? text : text[..e];
        var dot = mantissa.IndexOf((byte)'.');
        var integer = dot < 0 ? mantissa : mantissa[..dot];
        var fraction = dot < 0 ? [] : mantissa[(dot + 1)..];
        var exponentValue = 0;
        if (e >= 0 && !int.TryParse(text[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out exponentValue))
        {
            return "has an exponent DynamoDB cannot read.";
        }
        // The digits are the integer's then the fraction's: the first and last that are not zero, counted across both.
        var first = integer.IndexOfAnyExcept((byte)'0');
        if (first < 0)
        {
            first = fraction.IndexOfAnyExcept((byte)'0') is var f and >= 0 ? integer.Length + f : -1;
        }
        if (first < 0)
        {
            return null; // zero, whatever its exponent
        }
        var last = fraction.LastIndexOfAnyExcept((byte)'0') is var l and >= 0 ? integer.Length + l : integer.LastIndexOfAnyExcept((byte)'0');
        var significant = last - first + 1;
        if (significant > MaxDigits)
        {
            return $"has {significant} significant digits; DynamoDB stores at most {MaxDigits}.";
        }
        var exponent = (long)exponentValue + integer.Length - 1 - first;
        return exponent is < MinExponent or > MaxExponent ? "is outside the range DynamoDB can store (1E-130 to 9.99E+125)." : null;
    }
}
