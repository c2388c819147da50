using System.Buffers;
using System.Text;
using System.Text.Json;
using nietras.SeparatedValues;

namespace Pipeline.Intake;

/// <summary>
/// A CSV row (RFC 4180) under its file's header (docs/import.md, "CSV"): the event's fields by column name, and
/// <c>properties.NAME</c> columns (nested by dots) with an optional JSON type (<c>properties.total:number</c>). The row
/// becomes the event a JSON line would be, checked by the same rules. A row of the wrong width, a bad quote or bytes
/// that are not UTF-8 is refused; the file goes on.
/// </summary>
public sealed class CsvRowParser : IRowParser
{
    private static readonly UTF8Encoding Strict = new(false, throwOnInvalidBytes: true);
    private static readonly SepReaderOptions Cells = new()
    {
        HasHeader = false,
        Unescape = true,
        DisableColCountCheck = true,
        Sep = new Sep(','),
        InitialBufferLength = 256,
    };

    private readonly CsvColumn[] _columns;
    private readonly EventRowParser _events;

    private CsvRowParser(CsvColumn[] columns, byte[] header, EventRowParser events)
    {
        _columns = columns;
        IdentityPrefix = header;
        _events = events;
    }

    /// <inheritdoc/>
    public ReadOnlyMemory<byte> IdentityPrefix { get; }

    /// <summary>The parser of the rows under <paramref name="header"/> (the file's first record), or why the header cannot be used.</summary>
    public static (CsvRowParser? Parser, string? Error) FromHeader(ReadOnlySpan<byte> header, ImportContext import)
    {
        string[] names;
        try
        {
            names = Split(Strict.GetString(header), out var problem) ?? throw new InvalidDataException(problem);
        }
        catch (Exception e) when (e is DecoderFallbackException or InvalidDataException)
        {
            return (null, $"The header row (line 1) cannot be read: {e.Message}");
        }
        var (columns, error) = CsvColumn.Parse(names);
        return columns is null ? (null, $"The header row (line 1): {error}")
            : (new CsvRowParser(columns, [.. header, (byte)'\n'], new EventRowParser(import)), null);
    }

    /// <inheritdoc/>
    public ParsedRow Parse(ReadOnlySpan<byte> record)
    {
        string text;
        try
        {
            text = Strict.GetString(record);
        }
        catch (DecoderFallbackException e)
        {
            return ParsedRow.Refused($"The row is not UTF-8 (save the file as UTF-8): byte {e.Index} of the row cannot be read.");
        }
        if (Split(text, out var quoteProblem) is not { } cells)
        {
            return ParsedRow.Refused(quoteProblem!);
        }
        if (cells.Length != _columns.Length)
        {
            return ParsedRow.Refused($"The row has {cells.Length} cell(s); the header has {_columns.Length}.");
        }
        var problems = new List<string>();
        var row = new IncomingEvent();
        var properties = new Dictionary<string, object>(StringComparer.Ordinal);
        for (var i = 0; i < cells.Length; i++)
        {
            if (cells[i].Length == 0)
            {
                continue; // an empty cell is no value
            }
            var column = _columns[i];
            if (column.Path is null)
            {
                row = column.Field switch
                {
                    "eventType" => row with { EventType = cells[i] },
                    "userId" => row with { UserId = cells[i] },
                    "anonymousId" => row with { AnonymousId = cells[i] },
                    "occurredAt" => row with { OccurredAt = cells[i] },
                    _ => row with { EventId = cells[i] },
                };
            }
            else if (column.Value(cells[i], out var problem) is { } value)
            {
                Place(properties, column.Path, value);
            }
            else
            {
                problems.Add(problem!);
            }
        }
        if (problems.Count > 0)
        {
            return ParsedRow.Refused([.. problems]);
        }
        JsonElement? json = null;
        try
        {
            json = properties.Count == 0 ? null : Json(properties);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // A json cell escaping an unpaired surrogate ("\ud800") in a name: JsonDocument reads it, no writer writes it. Thrown
            // out of the row, it would fail the invocation at this row on every retry.
            return ParsedRow.Refused($"A json cell cannot be written as JSON (an unpaired surrogate escaped in a name?): {e.Message}");
        }
        return _events.Check(json is null ? row : row with { Properties = json });
    }

    // The cells of one record, or null with the bad quote: Sep reads RFC 4180's quoting, but lets a stray quote through.
    private static string[]? Split(string text, out string? problem)
    {
        problem = BadQuote(text);
        if (problem is not null)
        {
            return null;
        }
        using var reader = Cells.FromText(text);
        if (!reader.MoveNext())
        {
            return [""];
        }
        var row = reader.Current;
        var cells = new string[row.ColCount];
        for (var i = 0; i < cells.Length; i++)
        {
            cells[i] = row[i].ToString();
        }
        return cells;
    }

    // A quote inside an unquoted cell, text after a quoted cell's closing quote, a quoted cell never closed, or a line break
    // outside quotes (a bare carriage return: the line reader splits only at \n).
    private static string? BadQuote(string text)
    {
        var i = 0;
        for (var cell = 1; ; cell++)
        {
            if (i < text.Length && text[i] == '"')
            {
                i = ClosingQuote(text, i + 1) + 1;
                if (i == 0)
                {
                    return $"Cell {cell} opens a quote that is never closed (a bad quote).";
                }
                if (i < text.Length && text[i] != ',')
                {
                    return $"Cell {cell} has text after its closing quote (a bad quote).";
                }
            }
            else
            {
                var end = text.IndexOf(',', i);
                end = end < 0 ? text.Length : end;
                var cellText = text.AsSpan(i, end - i);
                if (cellText.Contains('"'))
                {
                    return $"Cell {cell} has a quote but does not start with one (a bad quote: inside a quoted cell, write a quote twice).";
                }
                if (cellText.ContainsAny('\r', '\n'))
                {
                    // Sep would end the record there and drop the rest of the line: a file of CR-only line endings (classic Mac,
                    // Excel's "CSV (Macintosh)") is one line, whose header would hide every row after it.
                    return $"Cell {cell} has a carriage return outside quotes: save the file with LF or CRLF line endings (a line break within a cell must be quoted).";
                }
                i = end;
            }
            if (i >= text.Length)
            {
                return null;
            }
            i++; // past the comma
        }
    }

    // The index of the quote closing a quoted cell whose text starts at start ("" is a quote within it), or -1.
    private static int ClosingQuote(string text, int start)
    {
        for (var i = start; i < text.Length; i++)
        {
            if (text[i] == '"')
            {
                if (i + 1 < text.Length && text[i + 1] == '"')
                {
                    i++;
                    continue;
                }
                return i;
            }
        }
        return -1;
    }

    private static void Place(Dictionary<string, object> root, string[] path, JsonElement value)
    {
        var node = root;
        foreach (var name in path[..^1])
        {
            if (!node.TryGetValue(name, out var child))
            {
                node[name] = child = new Dictionary<string, object>(StringComparer.Ordinal);
            }
            node = (Dictionary<string, object>)child;
        }
        node[path[^1]] = value;
    }

    private static JsonElement Json(Dictionary<string, object> properties)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, properties);
        }
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    private static void Write(Utf8JsonWriter writer, Dictionary<string, object> node)
    {
        writer.WriteStartObject();
        foreach (var (name, value) in node)
        {
            writer.WritePropertyName(name);
            if (value is JsonElement element)
            {
                element.WriteTo(writer);
            }
            else
            {
                Write(writer, (Dictionary<string, object>)value);
            }
        }
        writer.WriteEndObject();
    }
}
