using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Pipeline.Api.Events;
using Pipeline.Events;

namespace Pipeline.Api.Segment;

/// <summary>Turns a valid Segment call into the queued event (README, "Segment-compatible API": the mapping).</summary>
public sealed class SegmentMapper(TimeProvider clock)
{
    /// <summary>
    /// Maps <paramref name="message"/>, sent with the key whose hash is <paramref name="keyHash"/>. A batch's context and
    /// integrations are merged under the call's own; <c>context.ip</c> is the request's unless the client set it.
    /// </summary>
    public QueuedEvent Map(SegmentMessage message, SegmentBatch? envelope, string keyHash, HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(http);
        var receivedAt = clock.GetUtcNow();
        var ip = http.Connection.RemoteIpAddress?.ToString();
        return new QueuedEvent
        {
            SchemaVersion = QueuedEvent.CurrentSchemaVersion,
            EventId = message.MessageId is { } id ? EventId(keyHash, id) : Guid.CreateVersion7(receivedAt).ToString(),
            EventType = message.Type == "track" ? message.Event! : message.Type!,
            UserId = EventRules.NullIfBlank(message.UserId),
            AnonymousId = EventRules.NullIfBlank(message.AnonymousId),
            OccurredAt = SegmentTime.OccurredAt(message, receivedAt),
            ReceivedAt = receivedAt,
            SourceIp = ip,
            UserAgent = RequestFields.UserAgent(http),
            RequestId = http.TraceIdentifier,
            Properties = ObjectOrNull(message.Properties),
            Type = message.Type,
            MessageId = message.MessageId,
            Name = message.Name,
            Category = message.Category,
            GroupId = message.GroupId,
            PreviousId = message.PreviousId,
            Traits = ObjectOrNull(message.Traits),
            Context = Merge(ObjectOrNull(envelope?.Context), ObjectOrNull(message.Context), ip is null ? null : ("ip", ip)),
            Integrations = Merge(ObjectOrNull(envelope?.Integrations), ObjectOrNull(message.Integrations), null),
            Timestamp = message.Timestamp,
            OriginalTimestamp = message.OriginalTimestamp,
            SentAt = message.SentAt,
            Extra = message.Extra is { Count: > 0 } extra ? Write(w => { foreach (var (name, value) in extra) { w.WritePropertyName(name); value.WriteTo(w); } }) : null,
        };
    }

    /// <summary>
    /// The stored id of a call: from its messageId and the write key's hash, so a resend is stored once and two keys'
    /// ids never collide; 160 bits of SHA-256, in the characters an eventId allows.
    /// </summary>
    public static string EventId(string keyHash, string messageId) =>
        "seg-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{keyHash}\n{messageId}")))[..40];

    private static JsonElement? ObjectOrNull(JsonElement? value) => value is { ValueKind: JsonValueKind.Object } o ? o : null;

    // The base's fields the call does not have, then the call's; then the default field if neither has it.
    private static JsonElement? Merge(JsonElement? baseObject, JsonElement? own, (string Name, string Value)? fallback)
    {
        var needsFallback = fallback is { } f && !Has(own, f.Name) && !Has(baseObject, f.Name);
        if (baseObject is null && !needsFallback)
        {
            return own;
        }
        return Write(w =>
        {
            if (baseObject is { } shared)
            {
                foreach (var field in shared.EnumerateObject().Where(f => !Has(own, f.Name)))
                {
                    field.WriteTo(w);
                }
            }
            if (own is { } call)
            {
                foreach (var field in call.EnumerateObject())
                {
                    field.WriteTo(w);
                }
            }
            if (needsFallback)
            {
                w.WriteString(fallback!.Value.Name, fallback.Value.Value);
            }
        });
    }

    private static bool Has(JsonElement? value, string name) => value is { } o && o.TryGetProperty(name, out _);

    private static JsonElement Write(Action<Utf8JsonWriter> fields)
    {
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
