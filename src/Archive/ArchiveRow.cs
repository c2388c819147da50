using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using DuckDB.NET.Data;
using Pipeline.Events;
using Pipeline.Storage;

namespace Pipeline.Archive;

/// <summary>
/// Restores archive lines from a compacted hour: each row of a Parquet file as the event it was archived as (times
/// from their exact text, JSON objects from theirs), so readers of the archive (<c>replay</c>) read compacted hours as
/// they read raw ones, and the compaction is shown lossless by a test.
/// </summary>
public static class ArchiveRow
{
    /// <summary>The event of the reader's current row, whose columns are <see cref="EventColumns.All"/> in order.</summary>
    public static QueuedEvent Restore(DbDataReader row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var values = EventColumns.All.Select((c, i) => (c, i)).ToDictionary(x => x.c.Name, x => x.i);
        string? Text(string name) => row.IsDBNull(values[name]) ? null : row.GetString(values[name]);
        JsonElement? Json(string name) => Text(name) is { } text ? JsonSerializer.Deserialize(text, EventJsonContext.Default.JsonElement) : null;
        DateTimeOffset Time(string name) => DateTimeOffset.Parse(Text(name)!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        return new QueuedEvent
        {
            SchemaVersion = row.GetInt32(values["schemaVersion"]),
            EventId = Text("eventId")!,
            EventType = Text("eventType")!,
            UserId = Text("userId"),
            AnonymousId = Text("anonymousId"),
            OccurredAt = Time("occurredAtText"),
            ReceivedAt = Time("receivedAtText"),
            SourceIp = Text("sourceIp"),
            UserAgent = Text("userAgent"),
            RequestId = Text("requestId")!,
            Properties = Json("properties"),
            Type = Text("type"),
            MessageId = Text("messageId"),
            Name = Text("name"),
            Category = Text("category"),
            GroupId = Text("groupId"),
            PreviousId = Text("previousId"),
            Traits = Json("traits"),
            Context = Json("context"),
            Integrations = Json("integrations"),
            Timestamp = Text("timestamp"),
            OriginalTimestamp = Text("originalTimestamp"),
            SentAt = Text("sentAt"),
            Extra = Json("extra"),
            Plan = Text("plan") is { } plan ? JsonSerializer.Deserialize(plan, EventJsonContext.Default.PlanCheck) : null,
            ImportFile = Text("importFile"),
            ImportLine = row.IsDBNull(values["importLine"]) ? null : row.GetInt32(values["importLine"]),
        };
    }
}
