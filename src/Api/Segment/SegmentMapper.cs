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
        var eventId = message.MessageId is { } id ? SegmentEvents.EventId(keyHash, id) : Guid.CreateVersion7(receivedAt).ToString();
        var context = Merge(ObjectOrNull(envelope?.Context), ObjectOrNull(message.Context), ip is null ? null : ("ip", ip));
        var integrations = Merge(ObjectOrNull(envelope?.Integrations), ObjectOrNull(message.Integrations), null);
        return SegmentEvents.Map(message, eventId, SegmentTime.OccurredAt(message, receivedAt), receivedAt, http.TraceIdentifier, context, integrations) with
        {
            SourceIp = ip,
            UserAgent = RequestFields.UserAgent(http),
        };
    }

    private static JsonElement? ObjectOrNull(JsonElement? value) => SegmentEvents.ObjectOrNull(value);

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

    private static JsonElement Write(Action<Utf8JsonWriter> fields) => SegmentEvents.Write(fields);
}
