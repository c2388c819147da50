using System.Text;

namespace Pipeline.Archive;

/// <summary>How a column holds its field of an archive line.</summary>
public enum ColumnKind
{
    /// <summary>A JSON string, as a string.</summary>
    Text,

    /// <summary>A JSON integer, as a 32-bit integer.</summary>
    Number,

    /// <summary>A time, as a timestamp (microseconds, UTC; the archive's text has seven fractional digits).</summary>
    Time,

    /// <summary>A time's exact text, as archived.</summary>
    TimeText,

    /// <summary>A JSON object, as its exact text.</summary>
    Json,
}

/// <summary>A column of the compacted archive, of the Glue tables and of the <c>events</c> view.</summary>
/// <param name="Name">The column's name (Glue lower-cases it; both query engines compare names case-insensitively).</param>
/// <param name="Kind">How it holds its field.</param>
/// <param name="Field">The archive line's field it comes from.</param>
public sealed record EventColumn(string Name, ColumnKind Kind, string Field)
{
    /// <summary>The column's type in Glue (Hive DDL).</summary>
    public string GlueType => Kind switch { ColumnKind.Number => "int", ColumnKind.Time => "timestamp", _ => "string" };

    /// <summary>The column's type in DuckDB.</summary>
    public string DuckDbType => Kind switch { ColumnKind.Number => "INTEGER", ColumnKind.Time => "TIMESTAMP", _ => "VARCHAR" };
}

/// <summary>
/// The one list of the archive's columns (docs/query.md): the Parquet files the Aggregator writes, the two Glue tables
/// of the template (<c>events_parquet</c> over them, <c>events_raw</c> over the gzip JSON lines), and the <c>events</c>
/// view over both, which Athena and the local <c>query</c> command define with the same SQL. A test holds the template,
/// the Parquet schema and the view to this list.
/// </summary>
public static class EventColumns
{
    /// <summary>The Parquet table's name in Glue and locally.</summary>
    public const string ParquetTable = "events_parquet";

    /// <summary>The raw table's name in Glue and locally.</summary>
    public const string RawTable = "events_raw";

    /// <summary>The view's name.</summary>
    public const string View = "events";

    /// <summary>The partition columns of both tables and the view, after the columns: the receive day and hour (UTC).</summary>
    public static readonly IReadOnlyList<(string Name, string GlueType, string DuckDbType)> Partitions = [("dt", "string", "VARCHAR"), ("hour", "int", "INTEGER")];

    /// <summary>The columns of a Parquet file (and of the view, before the partitions), in order.</summary>
    public static readonly IReadOnlyList<EventColumn> All =
    [
        new("eventId", ColumnKind.Text, "eventId"),
        new("eventType", ColumnKind.Text, "eventType"),
        new("userId", ColumnKind.Text, "userId"),
        new("anonymousId", ColumnKind.Text, "anonymousId"),
        new("occurredAt", ColumnKind.Time, "occurredAt"),
        new("occurredAtText", ColumnKind.TimeText, "occurredAt"),
        new("receivedAt", ColumnKind.Time, "receivedAt"),
        new("receivedAtText", ColumnKind.TimeText, "receivedAt"),
        new("sourceIp", ColumnKind.Text, "sourceIp"),
        new("userAgent", ColumnKind.Text, "userAgent"),
        new("requestId", ColumnKind.Text, "requestId"),
        new("schemaVersion", ColumnKind.Number, "schemaVersion"),
        new("type", ColumnKind.Text, "type"),
        new("messageId", ColumnKind.Text, "messageId"),
        new("name", ColumnKind.Text, "name"),
        new("category", ColumnKind.Text, "category"),
        new("groupId", ColumnKind.Text, "groupId"),
        new("previousId", ColumnKind.Text, "previousId"),
        new("timestamp", ColumnKind.Text, "timestamp"),
        new("originalTimestamp", ColumnKind.Text, "originalTimestamp"),
        new("sentAt", ColumnKind.Text, "sentAt"),
        new("properties", ColumnKind.Json, "properties"),
        new("traits", ColumnKind.Json, "traits"),
        new("context", ColumnKind.Json, "context"),
        new("integrations", ColumnKind.Json, "integrations"),
        new("extra", ColumnKind.Json, "extra"),
        new("plan", ColumnKind.Json, "plan"),
        new("importFile", ColumnKind.Text, "importFile"),
        new("importLine", ColumnKind.Number, "importLine"),
    ];

    /// <summary>The raw table's columns: each field of a line once, times as their text (Glue type, DuckDB type).</summary>
    public static IReadOnlyList<(string Name, string GlueType, string DuckDbType)> RawFields { get; } =
        [.. All.Where(c => c.Kind != ColumnKind.TimeText).Select(c => c.Kind == ColumnKind.Time ? (c.Field, "string", "VARCHAR") : (c.Field, c.GlueType, c.DuckDbType))];

    /// <summary>
    /// The statement that defines the <c>events</c> view: every row of both tables, each event once (an hour may hold an
    /// event in both while it is being compacted, and the raw objects may hold it twice). Written in the SQL both engines
    /// share: the deployment's saved Athena query runs it as it is; locally, <c>from_iso8601_timestamp</c> is a macro.
    /// The duplicates are numbered per receive hour, so a filter on <c>dt</c> and <c>hour</c> still prunes partitions.
    /// </summary>
    public static string ViewSql() => new StringBuilder()
        .Append("CREATE OR REPLACE VIEW ").Append(View).Append(" AS\n")
        .Append("SELECT ").Append(Names()).Append('\n')
        .Append("FROM (\n")
        .Append("  SELECT *, row_number() OVER (PARTITION BY \"dt\", \"hour\", \"eventId\" ORDER BY \"receivedAtText\") AS \"copy\"\n")
        .Append("  FROM (\n")
        .Append(ArchivedSql("    "))
        .Append("  ) AS archived\n")
        .Append(") AS numbered\n")
        .Append("WHERE \"copy\" = 1")
        .ToString();

    /// <summary>
    /// Every archived copy of every event in both tables, as the view's columns (raw times parsed, and kept as their
    /// text): the rows the view numbers, and the rows a reader that wants each copy (to pick one itself) reads.
    /// </summary>
    public static string ArchivedSql(string indent = "")
    {
        var raw = string.Join(", ", All.Select(c => c.Kind switch
        {
            ColumnKind.Time => $"CAST(from_iso8601_timestamp({Q(c.Field)}) AS timestamp) AS {Q(c.Name)}",
            ColumnKind.TimeText => $"{Q(c.Field)} AS {Q(c.Name)}",
            _ => Q(c.Name),
        }).Concat(Partitions.Select(p => Q(p.Name))));
        return new StringBuilder()
            .Append(indent).Append("SELECT ").Append(Names()).Append(" FROM ").Append(ParquetTable).Append('\n')
            .Append(indent).Append("UNION ALL\n")
            .Append(indent).Append("SELECT ").Append(raw).Append(" FROM ").Append(RawTable).Append('\n')
            .ToString();
    }

    private static string Names() => string.Join(", ", All.Select(c => Q(c.Name)).Concat(Partitions.Select(p => Q(p.Name))));

    private static string Q(string name) => $"\"{name}\"";
}
