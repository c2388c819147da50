using System.Globalization;
using Pipeline.Events;

namespace Pipeline.Api.Events;

/// <summary>Turns a valid incoming event into the queued shape: id, receive time, source, request id.</summary>
public sealed class EventEnricher(TimeProvider clock)
{
    /// <summary>The header a client may send to make a single POST safe to retry.</summary>
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>Enriches <paramref name="incoming"/>; <paramref name="idempotencyKey"/> is used when the body has no eventId.</summary>
    public QueuedEvent Enrich(IncomingEvent incoming, HttpContext context, string? idempotencyKey = null)
    {
        var receivedAt = clock.GetUtcNow();
        return new QueuedEvent
        {
            SchemaVersion = QueuedEvent.CurrentSchemaVersion,
            EventId = incoming.EventId ?? idempotencyKey ?? Guid.CreateVersion7(receivedAt).ToString(),
            EventType = incoming.EventType!,
            UserId = EventRules.NullIfBlank(incoming.UserId),
            AnonymousId = EventRules.NullIfBlank(incoming.AnonymousId),
            OccurredAt = incoming.OccurredAt is { } at
                ? DateTimeOffset.Parse(at, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind).ToUniversalTime()
                : receivedAt,
            ReceivedAt = receivedAt,
            SourceIp = context.Connection.RemoteIpAddress?.ToString(),
            UserAgent = RequestFields.UserAgent(context),
            RequestId = context.TraceIdentifier,
            Properties = incoming.Properties is { ValueKind: System.Text.Json.JsonValueKind.Object } p ? p : null,
        };
    }
}
