using System.Text;
using System.Text.Json.Nodes;

namespace Pipeline.Bench.Cost;

/// <summary>
/// An item's size as DynamoDB bills it (Developer Guide, "Item sizes and formats"): each attribute's name in UTF-8 plus
/// its value: a string's UTF-8 bytes, a number's about one byte per two significant digits plus one, 1 byte for a
/// boolean or null, binary's bytes, and for a map or list 3 bytes plus its elements' sizes and 1 byte per element.
/// </summary>
internal static class DynamoDbItemSize
{
    /// <summary>The size of an item in DynamoDB's JSON wire form (<c>{"name": {"S": "..."}}</c>).</summary>
    public static double Of(JsonObject item) => item.Sum(a => Encoding.UTF8.GetByteCount(a.Key) + Value(a.Value!.AsObject()));

    private static double Value(JsonObject typed)
    {
        var (type, value) = typed.Single();
        return type switch
        {
            "S" => Encoding.UTF8.GetByteCount(value!.GetValue<string>()),
            "N" => Math.Ceiling(value!.GetValue<string>().Count(char.IsAsciiDigit) / 2.0) + 1,
            "B" => Convert.FromBase64String(value!.GetValue<string>()).Length,
            "BOOL" or "NULL" => 1,
            "M" => 3 + value!.AsObject().Sum(a => Encoding.UTF8.GetByteCount(a.Key) + Value(a.Value!.AsObject()) + 1),
            "L" => 3 + value!.AsArray().Sum(e => Value(e!.AsObject()) + 1),
            "SS" => value!.AsArray().Sum(e => Encoding.UTF8.GetByteCount(e!.GetValue<string>())),
            "NS" => value!.AsArray().Sum(e => Math.Ceiling(e!.GetValue<string>().Count(char.IsAsciiDigit) / 2.0) + 1),
            _ => 0,
        };
    }
}
