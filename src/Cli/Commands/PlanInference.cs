using System.Data.Common;
using System.Text;
using System.Text.Json;
using Amazon.S3;
using DuckDB.NET.Data;
using Pipeline.Archive;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>plan infer</c>: a starting tracking plan from what was sent, with the <c>query</c> engine (DuckDB over the
/// archive's <c>events</c> view): each event type, the keys of its <c>properties</c> (and <c>traits</c>, where sent)
/// with their JSON types, and <c>required</c> for the keys every event of the type had. The events it was inferred from
/// pass it. It is a start: tighten it (formats, enums, ranges) before setting it in <c>block</c> mode.
/// </summary>
public static class PlanInference
{
    // DuckDB's json_type names, as JSON Schema types.
    private static readonly Dictionary<string, string> SchemaTypes = new(StringComparer.Ordinal)
    {
        ["VARCHAR"] = "string",
        ["BIGINT"] = "integer",
        ["UBIGINT"] = "integer",
        ["DOUBLE"] = "number",
        ["BOOLEAN"] = "boolean",
        ["OBJECT"] = "object",
        ["ARRAY"] = "array",
        ["NULL"] = "null",
    };

    /// <summary>The plan, as indented JSON, from the events received in [from, to).</summary>
    public static async Task<string> InferAsync(IAmazonS3 s3, string bucket, DateTimeOffset from, DateTimeOffset to, TextWriter error, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"pipeline-infer-{Guid.NewGuid():N}");
        try
        {
            using var archive = new ArchiveDownloads(s3, bucket, Path.Combine(folder, "archive"));
            using var duckDb = await QueryCommand.OpenAsync(archive, bucket, from, to, folder, error, cancellationToken);
            return Write(await FieldsAsync(duckDb, from, to, cancellationToken));
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    private sealed record Key(string Name, long Present, SortedSet<string> Types);

    // (event type, field) -> events of the type that had the field, and its keys.
    private static async Task<SortedDictionary<(string Type, string Field), (long Events, List<Key> Keys)>> FieldsAsync(
        DuckDBConnection duckDb, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        using var command = duckDb.CreateCommand();
        // A key's JSON type through a JSON Pointer (RFC 6901), which any key can be written as.
        command.CommandText = """
            WITH documents AS (
                SELECT eventType, 'properties' AS field, properties AS doc FROM events WHERE receivedAt >= $from AND receivedAt < $to
                UNION ALL
                SELECT eventType, 'traits', traits FROM events WHERE receivedAt >= $from AND receivedAt < $to AND traits IS NOT NULL),
            totals AS (SELECT eventType, field, count(*) AS events FROM documents GROUP BY eventType, field),
            keyed AS (SELECT eventType, field, doc, unnest(json_keys(doc)) AS k FROM documents WHERE doc IS NOT NULL),
            typed AS (SELECT eventType, field, k, json_type(doc, '/' || replace(replace(k, '~', '~0'), '/', '~1')) AS t FROM keyed)
            SELECT totals.eventType, totals.field, totals.events, typed.k, count(typed.k) AS present, list(DISTINCT typed.t) AS types
            FROM totals LEFT JOIN typed ON typed.eventType = totals.eventType AND typed.field = totals.field
            GROUP BY totals.eventType, totals.field, totals.events, typed.k
            """;
        command.Parameters.Add(new DuckDBParameter("from", from.UtcDateTime));
        command.Parameters.Add(new DuckDBParameter("to", to.UtcDateTime));
        var fields = new SortedDictionary<(string, string), (long, List<Key>)>();
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var key = (reader.GetString(0), reader.GetString(1));
            if (!fields.TryGetValue(key, out var field))
            {
                fields[key] = field = (reader.GetInt64(2), []);
            }
            if (!reader.IsDBNull(3))
            {
                var seen = ((IEnumerable<object?>)reader.GetValue(5)).OfType<string>();
                var types = new SortedSet<string>(seen.Select(t => SchemaTypes.GetValueOrDefault(t, "string")), StringComparer.Ordinal);
                if (types.Contains("number"))
                {
                    types.Remove("integer"); // an integer is a number
                }
                field.Item2.Add(new Key(reader.GetString(3), reader.GetInt64(4), types));
            }
        }
        return fields;
    }

    private static string Write(SortedDictionary<(string Type, string Field), (long Events, List<Key> Keys)> fields)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("description", "Inferred from the archive by `plan infer`: tighten it (formats, enums, ranges) before setting it in block mode.");
            json.WriteString("mode", "flag");
            json.WriteString("unplanned", "flag");
            json.WriteStartObject("events");
            foreach (var type in fields.GroupBy(f => f.Key.Type))
            {
                json.WriteStartObject(type.Key);
                foreach (var ((_, field), (events, keys)) in type)
                {
                    json.WriteStartObject(field);
                    json.WriteString("type", "object");
                    json.WriteStartObject("properties");
                    foreach (var key in keys.OrderBy(k => k.Name, StringComparer.Ordinal))
                    {
                        json.WriteStartObject(key.Name);
                        if (key.Types.Count == 1)
                        {
                            json.WriteString("type", key.Types.Min);
                        }
                        else
                        {
                            json.WriteStartArray("type");
                            foreach (var t in key.Types)
                            {
                                json.WriteStringValue(t);
                            }
                            json.WriteEndArray();
                        }
                        json.WriteEndObject();
                    }
                    json.WriteEndObject();
                    json.WriteStartArray("required");
                    foreach (var key in keys.Where(k => k.Present == events).OrderBy(k => k.Name, StringComparer.Ordinal))
                    {
                        json.WriteStringValue(key.Name);
                    }
                    json.WriteEndArray();
                    json.WriteEndObject();
                }
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
