using System.Text.Json;
using System.Text.Json.Serialization;
using Pipeline.Events;

namespace Pipeline.Storage;

/// <summary>
/// An event as one line of the archive's gzip JSON-lines objects: the queued event, serialized compactly by this code
/// (never a client's or a queue's text, which may span lines), with both times in the table's fixed-width UTC format
/// (<see cref="EventLayout.TimeFormat"/>), so the first 19 characters of <c>receivedAt</c> sort and compare as time.
/// </summary>
public static class ArchiveLine
{
    /// <summary>The event's line, without the newline.</summary>
    public static byte[] Serialize(QueuedEvent queued) => JsonSerializer.SerializeToUtf8Bytes(queued, ArchiveLineJsonContext.Default.QueuedEvent);

    /// <summary>Reads a line back (a line of any schema version this code knows).</summary>
    public static QueuedEvent? Parse(string line) => JsonSerializer.Deserialize(line, ArchiveLineJsonContext.Default.QueuedEvent);
}

/// <summary>Writes a time as <see cref="EventLayout.TimeFormat"/>; reads any ISO 8601 time.</summary>
public sealed class FixedUtcTimeConverter : JsonConverter<DateTimeOffset>
{
    /// <inheritdoc />
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetDateTimeOffset();

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(EventLayout.FormatTime(value));
    }
}

/// <summary>Source-generated JSON for archive lines: the event contract's names, compact, fixed-width times.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, Converters = [typeof(FixedUtcTimeConverter)])]
[JsonSerializable(typeof(QueuedEvent))]
internal sealed partial class ArchiveLineJsonContext : JsonSerializerContext;
