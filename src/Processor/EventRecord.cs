using System.Text.Json;
using Pipeline.Events;
using Pipeline.Lambda;
using Pipeline.Storage;

namespace Pipeline.Processor;

/// <summary>
/// One event of an SQS record (a record holds one event, or several in an <see cref="EventBatchMessage"/>), with what
/// became of parsing it: a valid event; or the reason it can never succeed (a rejection); or, for a newer schema than
/// this Processor knows, the reason to retry it (a newer Processor, being deployed, will).
/// </summary>
/// <param name="Message">The SQS record that carried it.</param>
/// <param name="Event">The event, if valid.</param>
/// <param name="RejectReason">Why it can never succeed, if so.</param>
/// <param name="RetryReason">Why the record must be retried, if so.</param>
/// <param name="Index">Its position in a batch message, or null for a record of one event.</param>
/// <param name="Json">The event's JSON text, as the Api queued it (what the archive keeps).</param>
public sealed partial record EventRecord(SqsMessage Message, QueuedEvent? Event, string? RejectReason, string? RetryReason = null, int? Index = null, string? Json = null)
{
    /// <summary>Parses a record's body: one event, or each event of a batch message. Never throws.</summary>
    public static IReadOnlyList<EventRecord> ParseAll(SqsMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        try
        {
            using var document = JsonDocument.Parse(message.Body ?? "");
            var root = document.RootElement;
            if (EventBatchMessage.TryRead(root, out var events))
            {
                var records = events.EnumerateArray().Select((e, i) => Parse(message, e, i)).ToList();
                return records.Count > 0 ? records : [Reject(message, "The batch message holds no event.", null, null)];
            }
            return [Parse(message, root, null)];
        }
        catch (JsonException e)
        {
            return [Reject(message, $"The body is not a valid event document: {e.Message}", null, null)];
        }
    }

    private static EventRecord Parse(SqsMessage message, JsonElement root, int? index)
    {
        var json = index is null ? message.Body?.Trim() : root.GetRawText();
        try
        {
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Reject(message, $"The body is a JSON {root.ValueKind}, not an event object.", index, json);
            }
            if (root.TryGetProperty("schemaVersion", out var version) && version.ValueKind == JsonValueKind.Number
                && version.TryGetInt32(out var number) && number > QueuedEvent.CurrentSchemaVersion)
            {
                // Written by a newer Api during a deploy: retried until the newer Processor is live (README: deploy order).
                return new(message, null, null, $"schemaVersion {number} is newer than this Processor's {QueuedEvent.CurrentSchemaVersion}.", index, json);
            }
            var queued = root.Deserialize(EventJsonContext.Default.QueuedEvent);
            var reason = queued switch
            {
                null => "The body is JSON null.",
                { SchemaVersion: < 1 } => $"Unknown schemaVersion {queued.SchemaVersion}.",
                { EventId: null } or { EventType: null } or { RequestId: null } => "eventId, eventType or requestId is null.",
                _ when !EventIds.Pattern().IsMatch(queued.EventId) => "eventId is empty or malformed.",
                _ when string.IsNullOrWhiteSpace(queued.EventType) => "eventType is empty.",
                { ReceivedAt.Year: < 2000 } => "receivedAt is missing.",
                { Plan.Status: PlanCheck.Blocked } => $"The tracking plan (version {queued.Plan.Version}) refuses it: {string.Join("; ", queued.Plan.Violations ?? [])}",
                _ => ObjectProblem(queued),
            };
            return reason is null ? new(message, queued, null, null, index, json) : Reject(message, reason, index, json);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or ArgumentException or NotSupportedException)
        {
            return Reject(message, $"The body is not a valid event document: {e.Message}", index, json);
        }
    }

    // Every JSON object of the event (properties; for Segment calls traits, context, integrations, extra) must be an
    // object the table can store.
    private static string? ObjectProblem(QueuedEvent queued)
    {
        foreach (var (name, value) in queued.Objects())
        {
            if (value.ValueKind != JsonValueKind.Object)
            {
                return $"{name} is not an object.";
            }
            if (DynamoDbLimits.Problem(value, name) is { } problem)
            {
                return problem;
            }
        }
        return null;
    }

    private static EventRecord Reject(SqsMessage message, string reason, int? index, string? json) => new(message, null, reason, null, index, json);
}
