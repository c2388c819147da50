using System.Text.Json;
using System.Text.RegularExpressions;
using Pipeline.Events;
using Pipeline.Lambda;
using Pipeline.Storage;

namespace Pipeline.Processor;

/// <summary>
/// An SQS record with what became of parsing it: a valid event; or the reason it can never succeed (a rejection); or,
/// for a newer schema than this Processor knows, the reason to retry it (a newer Processor, being deployed, will).
/// </summary>
public sealed partial record EventRecord(SqsMessage Message, QueuedEvent? Event, string? RejectReason, string? RetryReason = null)
{
    /// <summary>Parses a record's body as a <see cref="QueuedEvent"/> and checks what the Processor relies on. Never throws.</summary>
    public static EventRecord Parse(SqsMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        try
        {
            using var document = JsonDocument.Parse(message.Body ?? "");
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Reject(message, $"The body is a JSON {root.ValueKind}, not an event object.");
            }
            if (root.TryGetProperty("schemaVersion", out var version) && version.TryGetInt32(out var number) && number > QueuedEvent.CurrentSchemaVersion)
            {
                // Written by a newer Api during a deploy: retried until the newer Processor is live (README: deploy order).
                return new(message, null, null, $"schemaVersion {number} is newer than this Processor's {QueuedEvent.CurrentSchemaVersion}.");
            }
            var queued = root.Deserialize(EventJsonContext.Default.QueuedEvent);
            var reason = queued switch
            {
                null => "The body is JSON null.",
                { SchemaVersion: < 1 } => $"Unknown schemaVersion {queued.SchemaVersion}.",
                { EventId: null } or { EventType: null } or { RequestId: null } => "eventId, eventType or requestId is null.",
                _ when !IdPattern().IsMatch(queued.EventId) => "eventId is empty or malformed.",
                _ when string.IsNullOrWhiteSpace(queued.EventType) => "eventType is empty.",
                { ReceivedAt.Year: < 2000 } => "receivedAt is missing.",
                _ => ObjectProblem(queued),
            };
            return reason is null ? new(message, queued, null) : Reject(message, reason);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or ArgumentException or NotSupportedException)
        {
            return Reject(message, $"The body is not a valid event document: {e.Message}");
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

    private static EventRecord Reject(SqsMessage message, string reason) => new(message, null, reason);

    [GeneratedRegex("^[A-Za-z0-9_.:-]{1,128}$")]
    private static partial Regex IdPattern();
}
