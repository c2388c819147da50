using System.Text.Json;
using System.Text.RegularExpressions;
using Pipeline.Events;
using Pipeline.Lambda;

namespace Pipeline.Processor;

/// <summary>An SQS record with what became of parsing it: a valid event, or the reason it can never succeed.</summary>
public sealed partial record EventRecord(SqsMessage Message, QueuedEvent? Event, string? RejectReason)
{
    /// <summary>Parses a record's body as a <see cref="QueuedEvent"/> and checks what the Processor relies on.</summary>
    public static EventRecord Parse(SqsMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        QueuedEvent? queued;
        try
        {
            queued = JsonSerializer.Deserialize(message.Body ?? "", EventJsonContext.Default.QueuedEvent);
        }
        catch (JsonException e)
        {
            return new(message, null, $"The body is not a valid event document: {e.Message}");
        }
        var reason = queued switch
        {
            null => "The body is JSON null.",
            { SchemaVersion: not QueuedEvent.CurrentSchemaVersion } => $"Unknown schemaVersion {queued.SchemaVersion}.",
            _ when !IdPattern().IsMatch(queued.EventId) => "eventId is empty or malformed.",
            _ when string.IsNullOrWhiteSpace(queued.EventType) => "eventType is empty.",
            { ReceivedAt.Year: < 2000 } => "receivedAt is missing.",
            { Properties.ValueKind: not JsonValueKind.Object } => "properties is not an object.",
            _ => null,
        };
        return reason is null ? new(message, queued, null) : new(message, null, reason);
    }

    [GeneratedRegex("^[A-Za-z0-9_.:-]{1,128}$")]
    private static partial Regex IdPattern();
}
