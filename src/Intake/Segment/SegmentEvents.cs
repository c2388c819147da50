using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Pipeline.Events;

namespace Pipeline.Intake;

/// <summary>
/// What a valid Segment call becomes, written once for <c>/v1</c> (which adds the request's address and agent) and for an
/// imported Segment file (docs/segment.md, docs/import.md): the same fields, the same id from the same <c>messageId</c>.
/// </summary>
public static class SegmentEvents
{
    /// <summary>
    /// The stored id of a call: from its messageId and the write key's hash, so a resend is stored once and two keys'
    /// ids never collide; 160 bits of SHA-256, in the characters an eventId allows. An imported message with a
    /// messageId gets the same id from the write key its file is imported under, so a call sent live and imported
    /// later is stored once.
    /// </summary>
    public static string EventId(string keyHash, string messageId) =>
        "seg-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{keyHash}\n{messageId}")))[..40];

    /// <summary>
    /// The queued event of <paramref name="message"/>: <paramref name="context"/> and <paramref name="integrations"/> are
    /// the call's own, merged with its batch's by the caller; no source address or agent (the Api adds its request's).
    /// </summary>
    public static QueuedEvent Map(SegmentMessage message, string eventId, DateTimeOffset occurredAt, DateTimeOffset receivedAt, string requestId,
        JsonElement? context, JsonElement? integrations)
    {
        ArgumentNullException.ThrowIfNull(message);
        return new QueuedEvent
        {
            SchemaVersion = QueuedEvent.CurrentSchemaVersion,
            EventId = eventId,
            EventType = message.Type == "track" ? message.Event! : message.Type!,
            UserId = EventRules.NullIfBlank(message.UserId),
            AnonymousId = EventRules.NullIfBlank(message.AnonymousId),
            OccurredAt = occurredAt,
            ReceivedAt = receivedAt,
            RequestId = requestId,
            Properties = ObjectOrNull(message.Properties),
            Type = message.Type,
            MessageId = message.MessageId,
            Name = message.Name,
            Category = message.Category,
            GroupId = message.GroupId,
            PreviousId = message.PreviousId,
            Traits = ObjectOrNull(message.Traits),
            Context = context,
            Integrations = integrations,
            Timestamp = message.Timestamp,
            OriginalTimestamp = message.OriginalTimestamp,
            SentAt = message.SentAt,
            Extra = message.Extra is { Count: > 0 } extra ? Write(w => { foreach (var (name, value) in extra) { w.WritePropertyName(name); value.WriteTo(w); } }) : null,
        };
    }

    /// <summary>The value if it is a JSON object, else null.</summary>
    public static JsonElement? ObjectOrNull(JsonElement? value) => value is { ValueKind: JsonValueKind.Object } o ? o : null;

    /// <summary>A JSON object of the fields <paramref name="fields"/> writes.</summary>
    public static JsonElement Write(Action<Utf8JsonWriter> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            fields(writer);
            writer.WriteEndObject();
        }
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }
}
