using System.Data.Common;
using System.Globalization;
using System.Text.Json;

namespace Pipeline.Cli.Commands;

/// <summary>
/// Writes a query's rows as they are read, in CSV (RFC 4180, a header row) or as a JSON array of objects, so a result
/// of any size costs no memory. Hand-written because the user's SQL must run as it is, not inside DuckDB's
/// <c>COPY … TO</c>, which writes files.
/// </summary>
public static class ResultWriter
{
    /// <summary>A cell as text (times in UTC, numbers invariant), or null for NULL.</summary>
    public static string? Text(DbDataReader reader, int i)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.IsDBNull(i) ? null : reader.GetValue(i) switch
        {
            DateTime time => time.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture),
            DateTimeOffset time => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture),
            bool flag => flag ? "true" : "false",
            var value => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
        };
    }

    /// <summary>Every row as CSV, with a header row; a NULL is an empty field.</summary>
    public static async Task CsvAsync(DbDataReader reader, IReadOnlyList<string> names, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(output);
        await output.WriteLineAsync(string.Join(',', names.Select(Field)));
        while (await reader.ReadAsync(cancellationToken))
        {
            await output.WriteLineAsync(string.Join(',', Enumerable.Range(0, names.Count).Select(i => Field(Text(reader, i) ?? ""))));
        }
    }

    /// <summary>Every row as a JSON object in one array; numbers and booleans as JSON's, times and the rest as strings.</summary>
    public static async Task JsonAsync(DbDataReader reader, IReadOnlyList<string> names, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(output);
        await output.WriteAsync('[');
        var first = true;
        using var buffer = new MemoryStream();
        while (await reader.ReadAsync(cancellationToken))
        {
            buffer.SetLength(0);
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                for (var i = 0; i < names.Count; i++)
                {
                    json.WritePropertyName(names[i]);
                    switch (reader.IsDBNull(i) ? null : reader.GetValue(i))
                    {
                        case null:
                            json.WriteNullValue();
                            break;
                        case bool flag:
                            json.WriteBooleanValue(flag);
                            break;
                        case double d when !double.IsFinite(d):
                            json.WriteStringValue(Text(reader, i)); // NaN and infinities are not JSON numbers
                            break;
                        case float f when !float.IsFinite(f):
                            json.WriteStringValue(Text(reader, i));
                            break;
                        case byte or sbyte or short or ushort or int or uint or long or ulong or float or double or decimal or System.Numerics.BigInteger:
                            json.WriteRawValue(Text(reader, i)!);
                            break;
                        default:
                            json.WriteStringValue(Text(reader, i));
                            break;
                    }
                }
                json.WriteEndObject();
            }
            await output.WriteAsync(first ? "\n" : ",\n");
            await output.WriteAsync(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
            first = false;
        }
        await output.WriteLineAsync(first ? "]" : "\n]");
    }

    // A CSV field: quoted if it holds a comma, a quote or a line break, quotes doubled.
    private static string Field(string text) =>
        text.AsSpan().IndexOfAny(",\"\r\n") < 0 ? text : $"\"{text.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
}
